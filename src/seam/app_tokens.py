"""The customer app's JWTs: verifying one against a workspace's key (SPEC §6), and refusing
an HS256 secret too short to be safe before it is stored."""

from __future__ import annotations

from typing import Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from seam.store.workspaces import Workspace

# RFC 7518 §3.2: an HS256 key is at least as long as the hash (256 bits).
MIN_SECRET_BYTES = 32


def secret_too_short(secret: str) -> str | None:
    """Why `secret` cannot be a workspace's HS256 verification key, or None if it can."""
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return (
            f"an HS256 JWT secret needs at least {MIN_SECRET_BYTES} bytes"
            " (RFC 7518 section 3.2); use your app's signing secret"
        )
    return None


def public_key_problem(pem: str) -> str | None:
    """Why `pem` cannot verify RS256/ES256 tokens, or None (checked before it replaces a
    working key)."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return "the public key is not a PEM public key (-----BEGIN PUBLIC KEY-----)"
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return "the public key must be an RSA (RS256) or EC (ES256) key"
    return None


def verify_app_token(token: str, workspace: Workspace) -> str | None:
    """The token's `sub` if it verifies with the workspace's key, issuer and audience, and
    expires (`exp`): a token without an expiry would identify sessions for ever, whoever
    kept a copy."""
    if workspace.jwt_secret:
        key: Any = workspace.jwt_secret
        algorithms = ["HS256"]
    elif workspace.jwt_public_key:
        key = workspace.jwt_public_key
        algorithms = ["RS256", "ES256"]
    else:
        return None
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            issuer=workspace.jwt_issuer or None,
            audience=workspace.jwt_audience or None,
            options={"require": ["sub", "exp"], "verify_aud": bool(workspace.jwt_audience)},
        )
    except jwt.PyJWTError:
        return None
    sub = claims.get("sub")
    return sub if isinstance(sub, str) else None
