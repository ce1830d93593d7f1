from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from relaypass import Algorithm, InvalidKeyError, Key, b64encode

ALL = list(Algorithm)


@pytest.mark.parametrize("alg", ALL)
def test_generated_key_signs_and_verifies(alg: Algorithm) -> None:
    key = Key.generate(alg)
    sig = key.sign(b"message")
    assert key.verify(b"message", sig)
    assert not key.verify(b"messagf", sig)


@pytest.mark.parametrize("alg", ALL)
def test_jwk_round_trip_keeps_kid_and_material(alg: Algorithm) -> None:
    key = Key.generate(alg, kid="k-1")
    again = Key.from_jwk(key.to_jwk(private=True))
    assert again.kid == "k-1"
    assert again.alg == alg
    assert again.to_jwk(private=True) == key.to_jwk(private=True)
    assert again.verify(b"m", key.sign(b"m"))


@pytest.mark.parametrize("alg", [a for a in ALL if not a.startswith("HS")])
def test_public_half_verifies_but_cannot_sign(alg: Algorithm) -> None:
    key = Key.generate(alg)
    public = key.public()
    assert public.verify(b"m", key.sign(b"m"))
    assert not public.can_sign
    assert public.kid == key.kid
    with pytest.raises(InvalidKeyError):
        public.sign(b"m")
    assert "d" not in public.to_jwk()


@pytest.mark.parametrize("alg", [a for a in ALL if not a.startswith("HS")])
def test_pem_round_trip(alg: Algorithm) -> None:
    key = Key.generate(alg)
    private = Key.from_pem(key.to_pem(private=True), alg)
    public = Key.from_pem(key.to_pem(), alg)
    assert private.kid == public.kid == key.kid
    assert public.verify(b"m", private.sign(b"m"))


def test_kid_defaults_to_rfc7638_thumbprint() -> None:
    # RFC 7638 section 3.1 example key and thumbprint.
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6t"
        "Soc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
        "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
        "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
    }
    assert Key.from_jwk(jwk).kid == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize("kid", ["", "a" * 129, "../../etc/passwd", "k 1", "k;drop", "ключ"])
def test_malformed_kid_is_refused(kid: str) -> None:
    with pytest.raises(InvalidKeyError):
        Key.generate("HS256", kid=kid)


@pytest.mark.parametrize(("alg", "size"), [("HS256", 31), ("HS384", 47), ("HS512", 63)])
def test_short_hmac_secret_is_refused(alg: str, size: int) -> None:
    jwk = {"kty": "oct", "alg": alg, "k": b64encode(b"\x01" * size)}
    with pytest.raises(InvalidKeyError):
        Key.from_jwk(jwk)
    jwk["k"] = b64encode(b"\x01" * (size + 1))
    assert Key.from_jwk(jwk).alg == alg


@pytest.mark.parametrize(
    ("gen", "alg"),
    [
        ("ES256", "ES384"),
        ("ES256", "EdDSA"),
        ("EdDSA", "RS256"),
        ("HS256", "ES256"),
        ("RS256", "HS256"),
    ],
)
def test_alg_must_fit_key_type_and_curve(gen: str, alg: str) -> None:
    jwk = Key.generate(gen).to_jwk(private=True)
    jwk["alg"] = alg
    with pytest.raises(InvalidKeyError):
        Key.from_jwk(jwk)


def test_verify_only_key_never_signs() -> None:
    jwk = Key.generate("EdDSA").to_jwk(private=True)
    jwk["key_ops"] = ["verify"]
    key = Key.from_jwk(jwk)
    assert not key.can_sign
    with pytest.raises(InvalidKeyError):
        key.sign(b"m")


def test_sign_only_key_never_verifies() -> None:
    jwk = Key.generate("HS256").to_jwk(private=True)
    jwk["key_ops"] = ["sign"]
    key = Key.from_jwk(jwk)
    with pytest.raises(InvalidKeyError):
        key.verify(b"m", key.sign(b"m"))


@pytest.mark.parametrize(
    "patch",
    [
        {"use": "enc"},
        {"key_ops": ["encrypt"]},
        {"key_ops": []},
        {"key_ops": ["sign", "sign"]},
        {"key_ops": "sign"},
        {"kid": 5},
        {"alg": "none"},
        {"alg": "ES512"},
        {"jku": "https://example.com/jwks"},
        {"kty": "oct-ish"},
    ],
)
def test_malformed_jwk_members_are_refused(patch: dict[str, object]) -> None:
    jwk = Key.generate("ES256").to_jwk(private=True)
    jwk.update(patch)
    with pytest.raises(InvalidKeyError):
        Key.from_jwk(jwk)


def test_jwk_without_alg_needs_one_passed_unless_the_curve_names_it() -> None:
    for alg in ("RS256", "HS256"):  # several algorithms fit these key types
        jwk = Key.generate(alg).to_jwk(private=True)
        del jwk["alg"]
        with pytest.raises(InvalidKeyError):
            Key.from_jwk(jwk)
        assert Key.from_jwk(jwk, alg=alg).alg == alg
    for alg in ("EdDSA", "ES256", "ES384"):  # as jose, joserfc and authlib export them
        jwk = Key.generate(alg).to_jwk()
        del jwk["alg"]
        assert Key.from_jwk(jwk).alg == alg
    jwk = Key.generate("EdDSA").to_jwk()
    with pytest.raises(InvalidKeyError):
        Key.from_jwk({**jwk, "alg": "EdDSA"}, alg="ES256")
    assert Key.from_jwk({**jwk, "alg": "Ed25519"}).alg == "EdDSA"  # RFC 9864's name
    with pytest.raises(InvalidKeyError):  # the curve still has to fit
        Key.from_jwk({**Key.generate("ES256").to_jwk(), "alg": "Ed25519"})


def test_mismatched_private_and_public_halves_are_refused() -> None:
    a = Key.generate("EdDSA").to_jwk(private=True)
    b = Key.generate("EdDSA").to_jwk(private=True)
    a["x"] = b["x"]
    with pytest.raises(InvalidKeyError):
        Key.from_jwk(a)
    ea = Key.generate("ES256").to_jwk(private=True)
    eb = Key.generate("ES256").to_jwk(private=True)
    ea["d"] = eb["d"]
    with pytest.raises(InvalidKeyError):
        Key.from_jwk(ea)


def test_partial_rsa_private_key_is_refused() -> None:
    jwk = Key.generate("RS256").to_jwk(private=True)
    del jwk["qi"]
    with pytest.raises(InvalidKeyError):
        Key.from_jwk(jwk)


def test_ec_point_off_curve_is_refused() -> None:
    jwk = Key.generate("ES256").to_jwk()
    y = bytearray(str(jwk["y"]).encode())
    y[5] = ord("A") if y[5] != ord("A") else ord("B")
    jwk["y"] = y.decode()
    with pytest.raises(InvalidKeyError):
        Key.from_jwk(jwk)


def test_save_writes_private_files_mode_0600(tmp_path: Path) -> None:
    key = Key.generate("EdDSA", kid="v1")
    key.save(tmp_path / "private.jwk")
    key.save(tmp_path / "public.jwk", private=False)
    assert stat.S_IMODE((tmp_path / "private.jwk").stat().st_mode) == 0o600
    public = json.loads((tmp_path / "public.jwk").read_text())
    assert "d" not in public
    assert public["key_ops"] == ["verify"]
    assert Key.load(tmp_path / "private.jwk").can_sign


def test_load_accepts_base64url_encoded_jwk(tmp_path: Path) -> None:
    key = Key.generate("HS256", kid="b64")
    text = json.dumps(key.to_jwk(private=True))
    (tmp_path / "k.jwk").write_text(b64encode(text.encode()))
    assert Key.load(tmp_path / "k.jwk").to_jwk(private=True) == key.to_jwk(private=True)


def test_hmac_key_has_no_public_half_and_exports_only_when_asked() -> None:
    key = Key.generate("HS256")
    with pytest.raises(InvalidKeyError):
        key.public()
    with pytest.raises(InvalidKeyError):
        key.to_jwk()


def test_repr_never_shows_key_material() -> None:
    key = Key.generate("HS256", kid="r")
    secret = key.to_jwk(private=True)["k"]
    assert isinstance(secret, str)
    assert secret not in repr(key)
    assert "secret" in repr(key)


def test_rsa_1024_and_exponent_one_are_refused() -> None:
    small = rsa.generate_private_key(65537, 1024)
    pem = small.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(InvalidKeyError):
        Key.from_pem(pem, "RS256")
    jwk = Key.generate("RS256").to_jwk()
    jwk["e"] = "AQ"
    with pytest.raises(InvalidKeyError):
        Key.from_jwk(jwk)
