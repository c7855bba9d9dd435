"""Catalogue -> win_package / win_chocolatey mapping."""

from socle.catalogue import selection

from .test_catalogue_checks import edit

SHA = "a" * 64


def test_winget_cards_wait_for_the_pinned_installer():
    items, missing = selection.windows_packages(year="2026-2027", disciplines=["mathematiques"])
    assert items == []
    assert {"geogebra", "firefox-esr", "libreoffice"} <= set(missing)


def test_lock_pins_the_installer_and_cards_can_carry_it(catalogue_copy):
    lock = {"windows": {"geogebra": {"url": "https://mirror.region.example/geogebra-6.0.880.msi", "sha256": SHA,
                                     "product_id": "{11111111-2222-3333-4444-555555555555}"}}}  # fmt: skip

    def msi(card):
        card["platforms"]["windows"] = {
            "source": "msi-url",
            "installer": {"url": "https://download.example.org/thonny-4.1.7.exe", "sha256": SHA, "type": "exe-inno",
                          "silent_args": "/VERYSILENT /ALLUSERS"},
            "detect": {"display_name": "Thonny 4.1.7"},
            "disk_mb": 80,
        }  # fmt: skip

    def choco(card):
        card["platforms"]["windows"] = {
            "source": "chocolatey",
            "chocolatey": {"id": "xcas", "version": "1.9.0", "feed": "https://choco.region.example/api/v2"},
            "detect": {"display_name": "Xcas"},
            "disk_mb": 50,
        }

    edit(catalogue_copy, "software/thonny.yaml", msi)
    edit(catalogue_copy, "software/xcas.yaml", choco)
    items, missing = selection.windows_packages(
        year="2026-2027", disciplines=["mathematiques"], lock=lock, root=catalogue_copy
    )
    by_sw = {i["software"]: i for i in items}
    assert by_sw["geogebra"] == {"software": "geogebra", "kind": "package", "url": lock["windows"]["geogebra"]["url"],
                                 "sha256": SHA, "product_id": "{11111111-2222-3333-4444-555555555555}"}  # fmt: skip
    assert by_sw["thonny"]["arguments"] == "/VERYSILENT /ALLUSERS"
    assert by_sw["xcas"] == {"software": "xcas", "kind": "chocolatey", "name": "xcas", "version": "1.9.0",
                             "source": "https://choco.region.example/api/v2"}  # fmt: skip
    assert "geogebra" not in missing and "thonny" not in missing
