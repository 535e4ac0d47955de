"""RIB, ICE and numéro d'affiliation checks."""

import pytest

from domain.identifiers import (
    ice_with_check,
    is_valid_affiliation,
    is_valid_ice,
    is_valid_rib,
    mask_rib,
    normalize_rib,
    rib_with_key,
)

VALID_RIB = rib_with_key("0117800000012345678901")


def test_rib_with_key_makes_a_multiple_of_97():
    assert len(VALID_RIB) == 24
    assert int(VALID_RIB) % 97 == 0
    assert is_valid_rib(VALID_RIB)


def test_rib_key_can_be_00():
    # 97 × 10**21 ends in 00, so its key is "00", not "97".
    first22 = str(97 * 10**19).zfill(22)
    assert rib_with_key(first22).endswith("00")
    assert is_valid_rib(rib_with_key(first22))


@pytest.mark.parametrize(
    "rib",
    [
        VALID_RIB[:-1] + str((int(VALID_RIB[-1]) + 1) % 10),  # wrong key
        VALID_RIB[:-1],  # 23 digits
        VALID_RIB + "0",  # 25 digits
        VALID_RIB[:4] + " " + VALID_RIB[4:],  # not normalized
        "٠" * 24,  # Arabic-Indic digits
        "",
    ],
)
def test_invalid_ribs(rib):
    assert not is_valid_rib(rib)


def test_normalize_and_mask_rib():
    spaced = " ".join(VALID_RIB[i : i + 4] for i in range(0, 24, 4))
    assert normalize_rib(" " + spaced + "\u00a0") == VALID_RIB
    assert mask_rib(spaced) == "•••• •••• •••• •••• •••• " + VALID_RIB[-4:]


def test_rib_with_key_refuses_wrong_length():
    with pytest.raises(ValueError):
        rib_with_key("123")


def test_ice():
    assert is_valid_ice("001561191000066")
    assert not is_valid_ice("001561191000065")
    assert not is_valid_ice("12345")
    assert not is_valid_ice(None)
    generated = ice_with_check("0012345670000")
    assert len(generated) == 15 and is_valid_ice(generated)
    assert ice_with_check("0015611910000") == "001561191000066"


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("1234567", True),
        ("0000001", True),
        ("123456", False),
        ("12345678", False),
        ("123456a", False),
        ("١٢٣٤٥٦٧", False),
        (" 1234567", False),
        (None, False),
    ],
)
def test_affiliation_number(value, valid):
    assert is_valid_affiliation(value) is valid
