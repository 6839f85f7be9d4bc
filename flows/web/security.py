"""Sign-in (登录) passwords, CSRF tokens, the session secret, and safe downloads.

* **Passwords** are argon2id hashes (argon2-cffi) in ``passwords.yaml`` beside ``users.yaml``
  in the config folder, one per user id; ``gongwen passwords`` writes them. A user without a
  hash cannot sign in. The packaged file holds the documented demo password only. A password an
  administrator reset, or the person set on ``/password``, is in the database and wins over the
  file (``flows/services/admin.py``).
* **Throttling** (``flows/services/signin.py``) counts failed sign-ins in the audit trail.
* **CSRF**: a random token per session, in a hidden field of every form, compared in constant
  time on every POST.
* **Downloads** resolve a stored relative path inside the storage folder and refuse anything
  that ends up outside it (``..``, absolute paths, symbolic links out).
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from ruamel.yaml import YAML

from gongwen_engine.config.errors import DefinitionError, Refusal
from gongwen_engine.config.schema import User

PASSWORDS_FILE = "passwords.yaml"
_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory parameters (t=3, m=64 MiB, p=4)
# Verified against when the account is unknown, so an unknown name costs as long as a known one.
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))


class WebError(Refusal):
    """A refusal shown to the person as a page: HTTP status, what happened, what to do (Chinese)."""

    def __init__(self, status: int, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.hint = status, message, hint


# ---- passwords -------------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def load_password_hashes(config_dir: Path) -> dict[str, str]:
    """user id -> argon2 hash from ``passwords.yaml`` in the config folder (empty if absent)."""
    path = config_dir / PASSWORDS_FILE
    if not path.is_file():
        return {}
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    hashes = data.get("passwords") or {}
    if not isinstance(hashes, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in hashes.items()):
        raise DefinitionError(f"{path}: 'passwords:' must map user ids to argon2 hashes (run `gongwen passwords`)")
    return hashes


def write_password_hashes(config_dir: Path, hashes: dict[str, str], header: str) -> Path:
    """Write ``passwords.yaml`` (sorted by user id) with a comment header."""
    path = config_dir / PASSWORDS_FILE
    lines = [f"# {line}".rstrip() for line in header.splitlines()] + ["passwords:"]
    lines += [f'  {user_id}: "{hashes[user_id]}"' for user_id in sorted(hashes)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def password_matches(hashes: dict[str, str], user_id: str, password: str) -> bool:
    """True when ``password`` is the user's; always spends one argon2 verification."""
    stored = hashes.get(user_id)
    try:
        return _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


# ---- CSRF and the session secret --------------------------------------------------------------------


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_valid(expected: str | None, given: str | None) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters, which a forged form may carry.
    return bool(expected and given) and hmac.compare_digest(str(expected).encode("utf-8"), str(given).encode("utf-8"))


def session_secret(home: Path) -> str:
    """GONGWEN_WEB_SECRET, or a random secret kept in ``$GONGWEN_HOME/web-secret`` (mode 0600)
    so that sessions survive a restart."""
    configured = os.environ.get("GONGWEN_WEB_SECRET")
    if configured:
        return configured
    path = home / "web-secret"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    home.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret)
    return secret


# ---- downloads ---------------------------------------------------------------------------------------


def storage_file(storage: Path, relative: str) -> Path:
    """The stored file at ``relative`` inside the storage folder; nothing outside it, ever."""
    root = storage.resolve()
    if not relative or "\x00" in relative:
        raise WebError(400, "下载被拒绝：文件路径为空或含有非法字符。")
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or target == root:
        raise WebError(403, "下载被拒绝：所请求的路径超出了文件存储目录。", "请从页面上的下载链接下载文件。")
    if not target.is_file():
        raise WebError(404, f"文件不存在：{relative}", "文件可能已被移走；请联系系统管理员核对存储目录。")
    return target


def user_label(user: User) -> str:
    return f"{user.name}（{user.id}）"
