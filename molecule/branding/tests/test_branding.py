"""The branding role gives the login screen and the XFCE desktop the Région's wallpaper, with the school's name."""

import xml.etree.ElementTree as ET


def test_wallpaper_names_the_region_and_the_school_escaped(host):
    wallpaper = host.file("/usr/share/socle/branding/wallpaper.svg")
    assert wallpaper.mode == 0o644
    svg = ET.fromstring(wallpaper.content_string)  # still well-formed with '&' and '<' in the name
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert texts == ["Région Grand Est", "Lycée Kléber & <Fils>"]


def test_logo_is_copied_with_its_extension(host):
    assert host.file("/usr/share/socle/branding/logo.svg").contains("circle")


def test_login_screen_and_desktop_use_the_wallpaper(host):
    greeter = host.file("/etc/lightdm/lightdm-gtk-greeter.conf.d/50-socle.conf").content_string
    assert "background=/usr/share/socle/branding/wallpaper.svg" in greeter
    desktop = host.file("/etc/xdg/xfce4/xfconf/xfce-perchannel-xml/xfce4-desktop.xml").content_string
    assert 'value="/usr/share/socle/branding/wallpaper.svg"' in desktop
