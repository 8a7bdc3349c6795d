"""Who may see and do what in the console: four roles, pure rules over plain data.

管理员 admin does everything; 督查 supervisor reads everything, acknowledges alerts and enters corrections;
部门负责人 department sees only its own department's windows, queues, staff, devices, alerts and cases, and answers
its department's follow-ups (差评整改, 投诉); 只读 viewer reads. Complaints (投诉) are entered by 督查 and 管理员.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES: dict[str, tuple[str, str]] = {
    "admin": ("管理员", "administrator"),
    "supervisor": ("督查", "supervisor"),
    "department": ("部门负责人", "department head"),
    "viewer": ("只读", "viewer"),
}

# what a role may change; reading is decided by the department scope below
ACTIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"ack_alert", "correct", "manage_users", "read_audit", "enter_complaint"}),
    "supervisor": frozenset({"ack_alert", "correct", "enter_complaint"}),
    "department": frozenset({"answer_followup"}),
    "viewer": frozenset(),
}


@dataclass(frozen=True)
class Person:
    """A console user as a request sees them."""

    name: str
    role: str
    department: str | None = None

    @property
    def role_label(self) -> str:
        zh, en = ROLES.get(self.role, (self.role, self.role))
        return f"{zh} {en}"

    def may(self, action: str) -> bool:
        return action in ACTIONS.get(self.role, frozenset())

    def sees(self, department: str | None) -> bool:
        """Whether something of `department` is shown: a department head sees only their own; the others all."""
        if self.role != "department":
            return True
        return department is not None and department == self.department


def only_visible(person: Person, items: list[dict], key: str = "department") -> list[dict]:
    return [item for item in items if person.sees(item.get(key))]
