import pytest

from socle.core import uai


@pytest.mark.parametrize("code", ["0671234C", "0681565G", "0540038Y", "6200001G", "7200010Y"])
def test_valid_uai(code):
    assert uai.problem(code) is None


def test_wrong_letter_names_the_expected_one():
    message = uai.problem("0671234A")
    assert "wrong check letter 'A'" in message
    assert "0671234C" in message


def test_missing_letter_is_completed():
    assert "should be '0671234C'" in uai.problem("0671234")


def test_number_read_by_yaml_is_explained():
    assert "quote it" in uai.problem(671234)


def test_alphabet_has_no_i_o_q():
    assert len(uai.ALPHABET) == 23
    assert not set("IOQ") & set(uai.ALPHABET)
