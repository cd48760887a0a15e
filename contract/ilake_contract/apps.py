"""Which applications' events are dropped whole: the rule the server and the agent share.

Both sides decide with `app_denied` over the same default list, so an app the server would
drop never leaves the employee's machine, and a program's own `apps.deny` and `apps.allow`
globs extend it the same way on both.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

# Applications whose events are dropped whole in every program: password managers, messaging and
# mail, HR and performance tools. Matched case-insensitively against app name and bundle id.
DEFAULT_DENIED_APPS: tuple[str, ...] = (
    # password managers
    "*1password*",
    "*bitwarden*",
    "*lastpass*",
    "*keepass*",
    "*dashlane*",
    "*keeper*",
    "*keychain*",
    "*nordpass*",
    "*enpass*",
    "*proton pass*",
    "com.apple.passwords*",
    "passwords",
    "*agilebits*",
    "*onepassword*",
    # messaging and mail
    "*slack*",
    "*teams*",
    "*signal*",
    "*whatsapp*",
    "*telegram*",
    "*discord*",
    "*messenger*",
    "*imessage*",
    "com.apple.mobilesms*",
    "messages",
    "*wechat*",
    "*skype*",
    "*zoom*",
    "*outlook*",
    "*thunderbird*",
    "com.apple.mail*",
    "mail",
    "*gmail*",
    "*mattermost*",
    "*rocket.chat*",
    "*element*",
    # HR and performance
    "*workday*",
    "*bamboohr*",
    "*lattice*",
    "*cultureamp*",
    "*culture amp*",
    "*15five*",
    "*successfactors*",
    "*personio*",
    "*hibob*",
    "*betterworks*",
    "*leapsome*",
)


def app_denied(
    deny: re.Pattern[str], allow: re.Pattern[str] | None, name: str | None, bundle_id: str | None
) -> bool:
    """Whether an app's events are dropped whole: denied by name or bundle id (casefolded
    globs), or outside the allowlist; with an allowlist, an app that names nothing is denied.
    The server (lambdas.core.programs) and the agent (ilake_agent.policy) decide with
    this one function."""
    candidates = [c.casefold() for c in (name, bundle_id) if c]
    if any(deny.fullmatch(c) for c in candidates):
        return True
    if allow is not None:
        return not any(allow.fullmatch(c) for c in candidates)
    return False


def glob_regex(patterns: Iterable[str]) -> re.Pattern[str]:
    """One casefolded regex for a list of globs; no globs match nothing."""
    return re.compile("|".join(fnmatch.translate(p.casefold()) for p in patterns) or "(?!)")
