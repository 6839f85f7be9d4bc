"""``gongwen serve`` (the web workplace) and ``gongwen passwords`` (its sign-in hashes)."""

from __future__ import annotations

import getpass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.loader import load_config
from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.cli._common import console, friendly
from gongwen_engine.flows.cli.check import print_behind
from gongwen_engine.flows.services.flow_versions import behind_current

if TYPE_CHECKING:
    import uvicorn

group = typer.Typer()

DEMO_PASSWORD = "gongwen-demo"  # documented in the README; for the packaged demo accounts only
DEMO_HEADER = f"""Sign-in passwords of the web workplace (gongwen serve): argon2id hashes, one per user id.
Written by `gongwen passwords --demo`: EVERY demo account's password is "{DEMO_PASSWORD}" (see README).
Demo only. For real use, keep your own config folder (GONGWEN_CONFIG_DIR) and set each password
with `gongwen passwords --user ID` (asks for it, stores only the hash)."""


@group.command()
@friendly
def serve(
    host: Annotated[str, typer.Option(help="address to listen on (0.0.0.0 for every interface)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    run: Annotated[
        bool, typer.Option(help="run the automatic steps (in Prefect) in this process after each action; --no-run leaves them to `gongwen worker`")
    ] = True,
    poll: Annotated[float, typer.Option(help="seconds between background passes (automatic steps, reminders) when nobody acts")] = 30.0,
    https_only: Annotated[bool, typer.Option("--https-only", help="send the session cookie over HTTPS only (behind a TLS proxy)")] = False,
) -> None:
    """Start the web workplace: secretaries launch, leaders approve, archivists search (http://HOST:PORT)."""
    import uvicorn

    from gongwen_engine.flows.runtime.runner import stop_cleanly_on_sigterm
    from gongwen_engine.flows.web.app import create_app

    web_app = create_app(Settings(), run_steps=run, poll_seconds=poll, https_only=https_only)
    if not web_app.state.web.passwords:
        raise Refusal(
            "没有可登录的账号：配置目录中缺少 passwords.yaml。请运行 gongwen passwords --demo（全部演示账号）或 gongwen passwords --user ID（某个用户）"
        )
    console.print(f"网上办公已启动：http://{host}:{port}（自动步骤由{'本进程' if run else ' gongwen worker '}办理）")
    print_behind(behind_current(web_app.state.web.engine))
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again with the handler it
    # found: with Python's default the process died there, before its exit handlers, and the
    # embedded Prefect server the steps had started stayed running. Ours exits through them.
    stop_cleanly_on_sigterm(web_app.state.web.engine)  # and within 10 s, its claims given back
    # uvicorn holds SIGTERM until its graceful shutdown returns; the stop begins at the signal
    # itself (``StoppingServer``): the steps claim nothing more, the deadline runs from then, and the
    # step in hand ends before Python does — a step finishing during Python's own shutdown made
    # Prefect log tracebacks (events it could no longer send; the SIGTERM campaign)
    # open connections get 5 s to finish, so the whole stop stays within the 10 s bound
    config = uvicorn.Config(web_app, host=host, port=port, log_level="warning", proxy_headers=False, timeout_graceful_shutdown=5)
    stopping_server(config).run()


def stopping_server(config: uvicorn.Config) -> uvicorn.Server:
    """A uvicorn server whose SIGTERM (or Ctrl-C) also begins gongwen's stop (``signals.begin_stop``)."""
    import uvicorn

    from gongwen_engine.flows.runtime.signals import begin_stop

    class StoppingServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            begin_stop()
            super().handle_exit(sig, frame)

    return StoppingServer(config)


@group.command()
@friendly
def passwords(
    user: Annotated[list[str] | None, typer.Option("--user", help="set this user's password (asked for, never echoed); repeatable")] = None,
    demo: Annotated[bool, typer.Option("--demo", help=f"give EVERY user in users.yaml the demo password '{DEMO_PASSWORD}'")] = False,
    config_dir: Annotated[Path | None, typer.Option(help="config folder (default: GONGWEN_CONFIG_DIR or the packaged one)")] = None,
    end_only: Annotated[
        bool, typer.Option("--end-sessions", help="only sign the --user people out of every browser (end their web sessions); no password is asked")
    ] = False,
) -> None:
    """Write sign-in password hashes (argon2id) to passwords.yaml in the config folder; a changed
    password ends the person's web sessions (they sign in again everywhere)."""
    from gongwen_engine.flows.services import admin
    from gongwen_engine.flows.services.engine import open_engine
    from gongwen_engine.flows.services.signin import end_sessions
    from gongwen_engine.flows.web.security import hash_password, load_password_hashes, write_password_hashes

    config = load_config(config_dir or Settings().config_dir)
    if not user and not demo:
        raise Refusal("请指定 --user ID（设置某个用户的密码）或 --demo（全部演示账号使用演示密码）")
    if end_only:
        if not user:
            raise Refusal("请用 --user ID 指定要结束登录会话的人员")
        engine = open_engine(Settings())
        for user_id in user:
            config.user(user_id)
            console.print(f"{user_id}：已结束 {end_sessions(engine, user_id, 'ended_by_admin')} 个登录会话")
        return
    hashes = {} if demo else load_password_hashes(config.directory)
    for user_id in config.users if demo else []:
        hashes[user_id] = hash_password(DEMO_PASSWORD)
    for user_id in user or []:
        config.user(user_id)  # an unknown id is refused before a password is asked for
        first, second = getpass.getpass(f"{user_id} 的新密码: "), getpass.getpass("再输入一次: ")
        if first != second or len(first) < 8:
            raise Refusal("两次输入不一致，或密码少于 8 个字符；未作修改")
        hashes[user_id] = hash_password(first)
    path = write_password_hashes(
        config.directory, hashes, DEMO_HEADER if demo else "Sign-in passwords of the web workplace: argon2id hashes (gongwen passwords --user ID)."
    )
    console.print(f"已写入 {len(hashes)} 个账号的密码摘要 → {path}")
    if user:  # the old password's sessions end with it
        engine = open_engine(Settings())
        for user_id in user:
            admin.use_file_password(engine, user_id)  # the file's new hash wins over one an administrator set
            console.print(f"{user_id}：已结束 {end_sessions(engine, user_id, 'password_changed')} 个登录会话")
