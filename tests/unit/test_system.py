from socle.core import system


def test_podman_configuration_is_detected(tmp_path, monkeypatch):
    conf = tmp_path / "containers.conf"
    monkeypatch.setattr(system, "CONTAINERS_CONF", conf)
    assert not system._podman_conf_ok()
    conf.write_text(system.CONTAINERS_CONF_TEXT)
    assert system._podman_conf_ok()


def test_non_root_gets_the_exact_command(monkeypatch):
    monkeypatch.setattr(system, "state", lambda: system.HostState(["podman", "mmdebstrap"], False))
    monkeypatch.setattr(system.os, "geteuid", lambda: 1000)
    try:
        system.setup()
    except system.SocleError as err:
        assert "sudo apt-get install -y podman mmdebstrap" in err.hint
        assert "sudo ./socle.sh setup" in err.hint
    else:
        raise AssertionError("setup must refuse to run without root")
