"""`hall users add|list|remove|reset`: the console's people from the command line, in its own process."""

from __future__ import annotations

from tests.helpers.cli import run_hall
from web import users


def test_add_list_reset_and_remove_users(tmp_path):
    data = ["--data", str(tmp_path)]
    added = run_hall("users", "add", "wang", "--role", "department", "--department", "scjg", *data,
                     input="wang-password-1\n")
    assert added.returncode == 0, added.stderr
    assert "added wang" in added.stdout
    assert run_hall("users", "add", "li", "--role", "supervisor", *data, input="li-password-1\n").returncode == 0
    listed = run_hall("users", "list", *data)
    assert listed.returncode == 0
    assert "wang" in listed.stdout and "部门负责人" in listed.stdout and "scjg" in listed.stdout
    assert "li" in listed.stdout and "督查" in listed.stdout
    db = users.open_db(tmp_path)
    assert users.verify(db, "wang", "wang-password-1").department == "scjg"
    assert run_hall("users", "reset", "wang", *data, input="wang-password-2\n").returncode == 0
    assert users.verify(db, "wang", "wang-password-1") is None
    assert users.verify(db, "wang", "wang-password-2") is not None
    assert run_hall("users", "remove", "wang", *data).returncode == 0
    assert [u.name for u in users.list_users(db)] == ["li"]
    assert [a["action"] for a in reversed(users.audit_log(db))] == ["user_add", "user_add", "password_reset",
                                                                     "user_remove"]
    db.close()
    assert (tmp_path / "console.db").stat().st_mode & 0o777 == 0o600


def test_bad_requests_are_refused_with_a_clear_message(tmp_path):
    data = ["--data", str(tmp_path)]
    cases = [
        (["users", "add", "x", "--role", "department"], "pw-long-enough\n", "needs --department"),
        (["users", "add", "x", "--role", "department", "--department", "nowhere"], "pw-long-enough\n",
         "unknown department"),
        (["users", "add", "x", "--role", "viewer"], "short\n", "at least 8"),
        (["users", "add", "bad name", "--role", "viewer"], "pw-long-enough\n", "invalid user name"),
        (["users", "remove", "ghost"], None, "no user"),
    ]
    for args, stdin, message in cases:
        done = run_hall(*args, *data, input=stdin)
        assert done.returncode == 1 and message in done.stderr, (args, done.stderr)
    assert run_hall("users", "add", "x", "--role", "viewer", *data, input="pw-long-enough\n").returncode == 0
    again = run_hall("users", "add", "x", "--role", "viewer", *data, input="pw-long-enough\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    bad_role = run_hall("users", "add", "y", "--role", "boss", *data, input="pw-long-enough\n")
    assert bad_role.returncode == 2 and "invalid choice" in bad_role.stderr


def test_hall_up_makes_a_first_admin_once_and_serves_the_console(console_hall, tmp_path):
    import httpx

    from hallctl.commands.web import ConsoleServer, ensure_first_admin
    from hub.broker import free_port
    from tests.helpers.web import login

    password = ensure_first_admin(tmp_path)
    assert password and len(password) >= 12
    assert ensure_first_admin(tmp_path) is None  # shown once: the next run finds the admin there
    db = users.open_db(tmp_path)
    assert [(u.name, u.role) for u in users.list_users(db)] == [("admin", "admin")]
    db.close()
    server = ConsoleServer(console_hall.hall, console_hall.data_dir, port=free_port(),
                           broker_port=console_hall.rig.port).start()
    try:
        with httpx.Client(base_url=server.url) as c:
            assert c.get("/api/live").status_code == 401
            assert login(c, "reader").status_code == 303
            assert len(c.get("/api/live").json()["windows"]) == 34
    finally:
        server.stop()
