"""Accounts: passwords (Argon2), sign-in with back-off, sessions, API tokens, user administration.

Sign-in reads, then checks the password with no transaction open (Argon2 takes about 100 ms,
and inside `BEGIN IMMEDIATE` it held SQLite's only write lock), then records the outcome in a
short write. Recording is best effort: when the database cannot be written (read-only, disk
full) the failures are counted in this process instead, so the limits still hold.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import weakref
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import InternalError, OperationalError
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, require
from portfolio.enums import Role
from portfolio.errors import Conflict, DomainError, Invalid, NotAllowed, NotFound
from portfolio.models import (
    ApiToken,
    LoginAttempt,
    Notification,
    Organisation,
    User,
    UserSession,
    utcnow,
)
from portfolio.schemas import UserCreate, parse
from portfolio.services.common import (
    REVISION,
    add_new,
    one_at_a_time,
    organisation_by_code,
    record,
    rows_changed,
)
from portfolio.services.merge import three_way
from portfolio.text import control_problem

if TYPE_CHECKING:
    from portfolio.db import Database

LOG = logging.getLogger(__name__)
HASHER = PasswordHasher()
MIN_PASSWORD_LENGTH = 12
TOKEN_PREFIX = "ldp_"
CLIENT_KEY = "client:"
# A database that cannot be written: sign-in and the bookkeeping of reads go on without it.
UNWRITABLE = (OperationalError, InternalError)
# Session and token "last seen" times are written at most this often.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class SignInLimits:
    """Free failures per account and per client in a window, then a doubling lock."""

    window_seconds: int = 900
    account_free_failures: int = 10
    client_free_failures: int = 5
    max_lock_seconds: int = 900

    @classmethod
    def of(cls, settings: Any) -> SignInLimits:
        """Return the limits a set of settings names."""
        return cls(window_seconds=settings.sign_in_window_seconds,
                   account_free_failures=settings.sign_in_account_free_failures,
                   client_free_failures=settings.sign_in_client_free_failures,
                   max_lock_seconds=settings.sign_in_max_lock_seconds)

    def lock_seconds(self, failures: int, free: int, last: datetime | None) -> int:
        """Return how long a key with failures (the last at `last`) must still wait."""
        if failures < free or last is None:
            return 0
        # Back off exponentially: 30 s at the limit, doubling up to the longest lock.
        lock = min(self.max_lock_seconds, 30 * 2 ** min(failures - free, 20))
        if last.tzinfo is None:
            last = last.replace(tzinfo=utcnow().tzinfo)
        return max(0, int(lock - (utcnow() - last).total_seconds()))


class FailureMemory:
    """Failed sign-ins this process could not write to the database, so limits still hold."""

    def __init__(self) -> None:
        self._failures: dict[str, deque[datetime]] = defaultdict(deque)
        self._lock = threading.Lock()

    def add(self, key: str) -> None:
        """Remember one failure of a key."""
        with self._lock:
            self._failures[key].append(utcnow())

    def clear(self, key: str) -> None:
        """Forget a key's failures (a success)."""
        with self._lock:
            self._failures.pop(key, None)

    def forget_one(self, key: str) -> None:
        """Forget a key's newest failure (an attempt counted as one that succeeded)."""
        with self._lock:
            found = self._failures.get(key)
            if found:
                found.pop()

    def count(self, key: str, window_seconds: int) -> tuple[int, datetime | None]:
        """Return the failures of a key within the window and the time of the last."""
        since = utcnow() - timedelta(seconds=window_seconds)
        with self._lock:
            found = self._failures.get(key)
            if not found:
                return 0, None
            while found and found[0] < since:
                found.popleft()
            return len(found), (found[-1] if found else None)


# One per open database (each worker process has its own): tests open many in one process.
_MEMORIES: weakref.WeakKeyDictionary[Database, FailureMemory] = weakref.WeakKeyDictionary()


def _memory(db: Database) -> FailureMemory:
    """Return the failures this process holds back for a database."""
    with _MEMORIES_LOCK:
        return _MEMORIES.setdefault(db, FailureMemory())


_MEMORIES_LOCK = threading.Lock()


class TooManyAttempts(DomainError):
    """Sign-in refused for a while after repeated failures."""

    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after} seconds")
        self.retry_after = retry_after


class PasswordChangedMeanwhile(DomainError):
    """The password was changed (an admin's reset) while the old one was being checked."""

    status_code = 409

    def __init__(self) -> None:
        super().__init__("your password was changed while you were changing it (an admin "
                         "may have reset it, or you changed it in another tab): sign in again "
                         "with the password you have now")


class BadCredentials(DomainError):
    """The email and password do not match an active account."""

    status_code = 401

    def __init__(self) -> None:
        super().__init__("the email or password is not right")


def hash_password(password: str) -> str:
    """Return the Argon2 hash of a password."""
    return HASHER.hash(password)


def check_password_strength(password: str) -> None:
    """Refuse passwords too short to resist guessing."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid({"password": f"Choose a password of at least {MIN_PASSWORD_LENGTH} "
                                   "characters."})
    if len(password) > 1024:
        raise Invalid({"password": "Keep the password under 1,024 characters."})


def actor_for(user: User) -> Actor:
    """Return the actor a signed-in user acts as."""
    if user.role is None:
        raise ValueError(f"user {user.email} has no role yet")
    return Actor(id=user.id, role=Role(user.role), organisation_id=user.organisation_id,
                 email=user.email)


def require_signed_in_person(actor: Actor, doing: str) -> None:
    """Refuse an API token's caller: a token never changes credentials or who holds power.

    Otherwise a leaked token could make itself a fresh one (outliving its revocation and
    expiry), end its owner's sessions or guess their password without the sign-in limits; an
    admin's could give another account a password it knows and sign in with that, or make any
    account (or a provider's group) an admin.
    """
    if actor.by_token:
        raise NotAllowed(f"an API token may not {doing}: sign in to the site to do that")


def _recorded_failures(connection: Connection, key: str,
                       window_seconds: int) -> tuple[int, datetime | None]:
    """Return a key's recorded failures within the window and the time of the last."""
    since = utcnow() - timedelta(seconds=window_seconds)
    failures, last = connection.execute(
        select(func.count(), func.max(LoginAttempt.at))
        .where(col(LoginAttempt.key) == key, col(LoginAttempt.at) >= since,
               col(LoginAttempt.success).is_(False))
    ).one()
    return failures, last


def retry_after(connection: Connection, memory: FailureMemory, key: str, free: int,
                limits: SignInLimits) -> int:
    """Return how many seconds a key must wait before another attempt (0: none)."""
    stored, stored_last = _recorded_failures(connection, key, limits.window_seconds)
    held, held_last = memory.count(key, limits.window_seconds)
    lasts = [t if t.tzinfo else t.replace(tzinfo=utcnow().tzinfo)
             for t in (stored_last, held_last) if t is not None]
    return limits.lock_seconds(stored + held, free, max(lasts) if lasts else None)


SIGN_IN_USER = select(col(User.id), col(User.role), col(User.organisation_id), col(User.email),
                      col(User.password_hash),
                      col(User.is_active)).where(func.lower(User.email) == bindparam("email"))


def sign_in(*, db: Database, email: str, password: str, client: str,
            limits: SignInLimits | None = None) -> Actor:
    """Check an email and password, limited per account and per client; record the attempt.

    The attempt is counted as a failure before the password is checked, and made a success
    after: guesses sent at once are limited as if sent one by one.
    Raises TooManyAttempts (with the seconds to wait) or BadCredentials.
    """
    limits = limits or SignInLimits()
    key = email.strip().lower()[:254]
    client_key = (CLIENT_KEY + client)[:254]
    memory = _memory(db)
    reserved = _count_attempt(db, memory, (key, limits.account_free_failures),
                              (client_key, limits.client_free_failures), limits=limits)
    with db.connect() as connection:
        user = connection.execute(SIGN_IN_USER, {"email": key}).first()
    # No transaction is open here: Argon2 must never hold the database's write lock.
    ok = False
    # A user waiting for a role (first signed in through the provider) has no password.
    if user is not None and user.is_active and user.password_hash and user.role:
        try:
            ok = HASHER.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        # Spend the same time on unknown accounts so timing does not reveal which exist.
        try:
            HASHER.verify(DUMMY_HASH, password)
        except VerificationError:
            pass
    account = user if ok else None  # None unless the password opened an active account
    if account is None:
        raise BadCredentials()
    # Hashed before the write transaction: Argon2 must never hold the write lock.
    rehashed = (hash_password(password) if HASHER.check_needs_rehash(account.password_hash)
                else None)
    if not _count_success(db, memory, key, client_key, reserved, account.id,
                          account.password_hash, rehashed):
        raise BadCredentials()  # the password was changed (an admin's reset) meanwhile
    return Actor(id=account.id, role=Role(account.role), organisation_id=account.organisation_id,
                 email=account.email)


def _count_attempt(db: Database, memory: FailureMemory, *keys: tuple[str, int],
                   limits: SignInLimits) -> list[int] | None:
    """Refuse an attempt over its keys' limits, else record it as failed; return its rows.

    In one write transaction per attempt, the keys' locks held (PostgreSQL; SQLite's one writer
    already is one): a guess sent beside others sees theirs counted. Where the database cannot
    be written this process remembers the failures instead, and None is returned.
    """
    try:
        with db.write() as session:
            for key, _free in sorted(keys):
                one_at_a_time(session, f"sign-in attempts {key}")
            _refuse_over_limits(session.connection(), memory, keys, limits)
            rows = [LoginAttempt(key=key, success=False, at=utcnow()) for key, _free in keys]
            session.add_all(rows)
            session.flush()
            return [row.id for row in rows if row.id is not None]
    except UNWRITABLE as exc:
        LOG.warning("sign-in attempt not recorded (the database cannot be written): %s",
                    str(exc.orig)[:200])
    with db.connect() as connection:
        _refuse_over_limits(connection, memory, keys, limits)
    for key, _free in keys:
        memory.add(key)
    return None


def _refuse_over_limits(connection: Connection, memory: FailureMemory,
                        keys: tuple[tuple[str, int], ...], limits: SignInLimits) -> None:
    """Raise TooManyAttempts when any key must wait before another attempt."""
    wait = max(retry_after(connection, memory, key, free, limits) for key, free in keys)
    if wait:
        raise TooManyAttempts(wait)


def _count_success(db: Database, memory: FailureMemory, key: str, client_key: str | None,
                   reserved: list[int] | None, user_id: int, verified: str,
                   rehashed: str | None = None) -> bool:
    """Make a counted attempt a success, unless the password checked has changed since.

    The account's failures go, the client's stay; `rehashed` (the password hashed anew)
    replaces the hash `verified` only while it is still the user's. False, with the attempt
    left a failure, when the user's password is no longer the one checked (an admin reset it).
    """
    try:
        with db.write() as session:
            current = session.execute(select(col(User.password_hash)).where(
                col(User.id) == user_id).with_for_update(key_share=True)).scalar()
            if current != verified:
                return False
            if reserved:
                session.execute(update(LoginAttempt).where(col(LoginAttempt.id).in_(reserved))
                                .values(success=True))
            session.execute(delete(LoginAttempt).where(col(LoginAttempt.key) == key,
                                                       col(LoginAttempt.success).is_(False)))
            if rehashed is not None:
                session.execute(update(User).where(col(User.id) == user_id)
                                .values(password_hash=rehashed))
    except UNWRITABLE as exc:
        LOG.warning("sign-in success not recorded (the database cannot be written): %s",
                    str(exc.orig)[:200])
    if reserved is None:
        memory.clear(key)
        if client_key is not None:
            memory.forget_one(client_key)
    return True


DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))


def user_public(user: User, organisation: Organisation | None) -> dict[str, Any]:
    """Return the public shape of a user (never the hash)."""
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role,
            "organisation": organisation.code if organisation else None,
            "is_active": user.is_active, "has_password": bool(user.password_hash)}


def add_user(*, session: Session, actor: Actor, data: dict[str, Any],
             password: str | None = None, must_change: bool = False) -> dict[str, Any]:
    """Create a user (admins only), with a password when one is given.

    `must_change`: the password is one an admin chose, so the user replaces it at first sign-in.
    """
    require(actor, Capability.MANAGE_USERS)
    # A token's holder would know the password it chose, and sign in with it; without one, the
    # account's role is still power given (an admin who signs in through the provider).
    require_signed_in_person(actor, "give a user a password" if password is not None
                             else "add users")
    values = parse(UserCreate, data)
    taken = {"email": f"A user with email {values.email} already exists."}
    if session.execute(select(col(User.id)).where(func.lower(User.email) == values.email.lower())
                       ).first():
        raise Invalid(taken)
    organisation = (organisation_by_code(session, values.organisation)
                    if values.organisation else None)
    user = User(email=values.email.lower(), name=values.name, role=values.role.value,
                organisation_id=organisation.id if organisation else None)
    if password is not None:
        check_password_strength(password)
        user.password_hash = hash_password(password)
        user.must_change_password = must_change
    add_new(session, user, taken=taken)
    record(session, actor, action="create", entity="user", entity_id=user.id,
           after=user_public(user, organisation))
    return user_public(user, organisation)


def set_password(*, session: Session, actor: Actor, email: str, password: str,
                 keep_session: str | None = None, was_hash: str | None = None,
                 hashed: str | None = None) -> None:
    """Set a user's password (admins, or the user themself).

    Whoever knew the old password is signed out with it and loses the API tokens it let them
    make; a user changing their own password keeps the session they changed it in
    (`keep_session`, its secret). Given the hash the old password was checked against
    (`was_hash`), a password changed since is refused; `hashed` is the new one, hashed already.
    """
    user = _user(session, email, for_update=was_hash is not None)
    assert user.id is not None
    if actor.id != user.id:
        require(actor, Capability.MANAGE_USERS, doing="set other users' passwords")
        require_signed_in_person(actor, "set other users' passwords")
    if was_hash is not None and user.password_hash != was_hash:
        raise PasswordChangedMeanwhile()
    check_password_strength(password)
    user.password_hash = hashed or hash_password(password)
    # Chosen by the user: no longer one an admin knows. Chosen by an admin: the user must
    # choose their own at the next sign-in.
    user.must_change_password = actor.id != user.id
    session.add(user)
    end_sessions(session, user.id,
                 keep=keep_session if actor.id == user.id else None)
    revoked = revoke_tokens(session, user.id)
    record(session, actor, action="set_password", entity="user", entity_id=user.id,
           after={"tokens_revoked": revoked})


def has_password(*, db: Database, actor: Actor) -> bool:
    """Tell whether the acting user has a password (else they sign in through the provider)."""
    with db.connect() as connection:
        return bool(connection.execute(select(col(User.password_hash))
                                       .where(col(User.id) == actor.id)).scalar())


def no_password(email: str, *, passwords_on: bool) -> NotFound:
    """Return the refusal of a password change to an account that signs in without one."""
    why = ("passwords are switched off here" if not passwords_on
           else "your account has no password")
    return NotFound("password", email, message=f"{why}: you sign in through the identity "
                    "provider, which keeps your password")


def change_own_password(*, db: Database, actor: Actor, current: str, new: str, repeat: str,
                        keep_session: str | None = None, passwords_on: bool = True) -> None:
    """Change the acting user's password after checking the current one.

    The current password is checked with no transaction open (Argon2 must never hold the
    write lock), then the new one is written in a short transaction. An account with no
    password, or any while passwords are switched off (`passwords_on`), has none to change.
    """
    require_signed_in_person(actor, "change a password")
    errors: dict[str, str] = {}
    limits = SignInLimits.of(db.settings)
    memory = _memory(db)
    with db.connect() as connection:
        stored = connection.execute(select(col(User.password_hash), col(User.email))
                                    .where(col(User.id) == actor.id)).first()
        if stored is None:
            raise NotFound("user", actor.email)
    if not passwords_on or not stored.password_hash:
        # Before the attempt is counted: there is no password to guess.
        raise no_password(stored.email, passwords_on=passwords_on)
    # The current password is guessed here as at sign-in: the same account limit holds, and
    # the attempt is counted before the password is checked.
    key = stored.email.strip().lower()[:254]
    reserved = _count_attempt(db, memory, (key, limits.account_free_failures), limits=limits)
    try:
        ok = bool(stored.password_hash) and HASHER.verify(stored.password_hash, current)
    except (VerificationError, InvalidHashError):
        ok = False
    if ok and not _count_success(db, memory, key, None, reserved, actor.id or 0,
                                 stored.password_hash):
        raise PasswordChangedMeanwhile()
    if not ok:
        errors["current_password"] = "This is not your current password: type it again."
    if len(new) < MIN_PASSWORD_LENGTH:
        errors["new_password"] = (f"Choose a password of at least {MIN_PASSWORD_LENGTH} "
                                  "characters; a few unrelated words are easy to remember.")
    elif len(new) > 1024:
        errors["new_password"] = "Keep the password under 1,024 characters."
    elif new == current:
        errors["new_password"] = "Choose a password different from the current one."
    if new != repeat:
        errors["repeat_password"] = "The two new passwords are not the same: type it again."
    if errors:
        raise Invalid(errors)
    hashed = hash_password(new)  # before the write transaction, as at sign-in
    with db.write() as session:
        set_password(session=session, actor=actor, email=stored.email, password=new,
                     keep_session=keep_session, was_hash=stored.password_hash, hashed=hashed)


def reset_password(*, session: Session, actor: Actor, email: str,
                   passwords_on: bool = True) -> str:
    """Give a user a one-time password (admins only) and return it, to be shown once.

    Their sessions end and their API tokens are revoked (a token copied by whoever knew the
    old password dies with it), and they must choose their own password when they next sign in.
    Refused while passwords are switched off (`passwords_on`): nobody could sign in with it.
    """
    require(actor, Capability.MANAGE_USERS, doing="reset other users' passwords")
    # The one-time password goes back to the caller: a token's holder would sign in with it.
    require_signed_in_person(actor, "reset other users' passwords")
    if not passwords_on:
        raise Invalid({"password": "Passwords are switched off here: everyone signs in "
                                   "through the identity provider, so there is none to reset."})
    user = _user(session, email)
    assert user.id is not None
    if user.id == actor.id:
        raise Invalid({"password": "Change your own password on your account page."})
    one_time = "-".join(secrets.token_urlsafe(6) for _ in range(3))
    user.password_hash = hash_password(one_time)
    user.must_change_password = True
    session.add(user)
    end_sessions(session, user.id)
    revoked = revoke_tokens(session, user.id)
    record(session, actor, action="reset_password", entity="user", entity_id=user.id,
           after={"tokens_revoked": revoked})
    return one_time


def must_change_password(*, db: Database, user_id: int) -> bool:
    """Tell whether a user must choose their own password before anything else."""
    with db.connect() as connection:
        found = connection.execute(select(col(User.must_change_password))
                                   .where(col(User.id) == user_id)).scalar()
    return bool(found)


def update_user(*, session: Session, actor: Actor, email: str, role: str | None = None,
                organisation: str | None = None, is_active: bool | None = None,
                was: dict[str, Any] | None = None) -> dict:
    """Change a user's role, organisation or whether they may sign in (admins only).

    Given the values the admin's form started from (`was`: role, organisation, is_active),
    only the fields they changed are written, merged with what is stored now; a field another
    admin changed differently meanwhile is a conflict (nothing written, both values returned).
    """
    require(actor, Capability.MANAGE_USERS)
    # Who holds which power is changed by a person at the site, never by a token that leaked.
    require_signed_in_person(actor, "change users' roles, organisations or access")
    user = _user(session, email)
    assert user.id is not None
    before = user_public(user, session.get(Organisation, user.organisation_id)
                         if user.organisation_id else None)
    if was is not None:
        role, organisation, is_active = _merged_user(before, was, {
            "role": role or None, "organisation": organisation or None, "is_active": is_active})
    seen = (user.role, user.organisation_id, user.is_active)
    new_role, organisation_id = user.role, user.organisation_id
    if role is not None:
        try:
            new_role = Role(role).value
        except ValueError:
            allowed = "admin, cdo, lead, researcher"
            raise Invalid({"role": f"{role!r} is not one of {allowed}"}) from None
    if organisation is not None:
        # Looked up before the user changes: the lookup's autoflush would write a half change.
        organisation_id = (organisation_by_code(session, organisation).id
                           if organisation else None)
    if new_role == Role.LEAD.value and organisation_id is None:
        raise Invalid({"organisation": "A lead must belong to an organisation: choose one."})
    active = user.is_active if is_active is None else is_active
    if user.role == Role.ADMIN.value and user.is_active and not (
            new_role == Role.ADMIN.value and active):
        _keep_an_admin(session, user, actor,
                       field="role" if new_role != Role.ADMIN.value else "active")
    # Compare-and-set on what was read: a change another admin committed since wins.
    result = session.execute(update(User).where(
        col(User.id) == user.id, col(User.role).is_not_distinct_from(seen[0]),
        col(User.organisation_id).is_not_distinct_from(seen[1]), col(User.is_active) == seen[2],
    ).values(role=new_role, organisation_id=organisation_id, is_active=active))
    session.refresh(user)
    if rows_changed(result) != 1:
        now = user_public(user, session.get(Organisation, user.organisation_id)
                          if user.organisation_id else None)
        raise Conflict(f"{user.email} was changed by another admin while you were saving: "
                       "look at the user again and save",
                       current={name: now[name] for name in USER_FIELDS})
    if not active:
        # Its tokens go too, so that switching the account on again wakes none of them.
        end_sessions(session, user.id)
        revoke_tokens(session, user.id)
    org = session.get(Organisation, user.organisation_id) if user.organisation_id else None
    after = user_public(user, org)
    record(session, actor, action="update", entity="user", entity_id=user.id, before=before,
           after=after)
    return after


USER_FIELDS = ("role", "organisation", "is_active")


def _merged_user(saved: dict[str, Any], was: dict[str, Any],
                 mine: dict[str, Any]) -> tuple[str | None, str, bool]:
    """Merge an admin's row (mine) from the values it started from (was) into what is saved.

    Returns the role, organisation code ("" for none) and access to write, or raises Conflict
    naming each field both changed differently, with both values.
    """
    base = {name: was.get(name) for name in USER_FIELDS}
    theirs = {name: saved[name] for name in USER_FIELDS}
    applied, conflicts = three_way(base, theirs, mine)
    if conflicts:
        raise Conflict(f"{saved['email']} was changed by another admin since you opened the page, "
                       "and you both changed " + ", ".join(sorted(conflicts)),
                       current=theirs, conflicts=conflicts)
    merged = theirs | applied
    return merged["role"], merged["organisation"] or "", bool(merged["is_active"])


def only_active_admin(session: Session, user: User) -> bool:
    """Tell whether the user is the one active admin (rows locked to the commit)."""
    # The active admins' rows stay locked to the commit (PostgreSQL; SQLite's writer holds its
    # one write lock): two admins demoting each other at once cannot both be let through.
    admins = session.execute(
        select(col(User.id)).where(col(User.role) == Role.ADMIN.value,
                                   col(User.is_active).is_(True))
        .order_by(col(User.id)).with_for_update()).all()
    return user.role == Role.ADMIN.value and user.is_active and all(
        found == user.id for (found,) in admins)


def _keep_an_admin(session: Session, user: User, actor: Actor, *, field: str) -> None:
    """Refuse to take the admin role or access from the last active admin."""
    if not only_active_admin(session, user):
        return
    who = "You are" if user.id == actor.id else f"{user.email} is"
    raise Invalid({field: f"{who} the only active admin: make someone else an admin first."})


def _user(session: Session, email: str, *, for_update: bool = False) -> User:
    """Return a user by email (locked to the commit if asked) or raise NotFound."""
    query = select(User).where(func.lower(User.email) == email.lower())
    # FOR NO KEY UPDATE: rows that refer to the user (an audit event) may still be added.
    locked = query.with_for_update(key_share=True) if for_update else query
    user = session.execute(locked).scalars().first()
    if user is None:
        raise NotFound("user", email)
    return user


def list_users(*, session: Session, actor: Actor) -> list[dict[str, Any]]:
    """List users (admins only)."""
    require(actor, Capability.MANAGE_USERS)
    rows = cast(list[tuple[User, Organisation | None]], session.execute(
        select(User, Organisation).outerjoin(Organisation,
                                             col(Organisation.id) == col(User.organisation_id))
        .order_by(col(User.email))).all())
    return [user_public(u, o) for u, o in rows]


# Every request looks its caller up: columns on a plain connection, not ORM objects in a
# session (measured: 63 us against 277 us for a token).
ACTOR_COLUMNS = (col(User.id), col(User.role), col(User.organisation_id), col(User.email))


# Built once: building a statement costs more than running it here.
# A user with no role yet (waiting for an admin) acts as nobody.
ACTOR_BY_ID = select(*ACTOR_COLUMNS).where(col(User.id) == bindparam("user_id"),
                                           col(User.is_active).is_(True),
                                           col(User.role).is_not(None))
# The token's own id under its own name: `id` is the user's (ACTOR_COLUMNS come first).
ACTOR_BY_TOKEN = (select(*ACTOR_COLUMNS, cast(Any, col(ApiToken.id)).label("token_id"),
                         col(ApiToken.last_used_at))
                  .join(ApiToken, col(ApiToken.user_id) == col(User.id))
                  .where(col(ApiToken.token_hash) == bindparam("token_hash"),
                         col(ApiToken.revoked_at).is_(None),
                         col(ApiToken.expires_at) > bindparam("now"),
                         col(User.is_active).is_(True), col(User.role).is_not(None)))
# With the session's user come what nearly every page asks next, the portfolio's revision
# and the bell's unread count: one round trip, not three (measured on PostgreSQL: 0.3 ms
# against 0.85 ms; on SQLite 0.07 against 0.19 ms).
UNREAD_OF_USER = (select(func.count()).select_from(Notification)
                  .where(col(Notification.user_id) == col(User.id),
                         col(Notification.read_at).is_(None)).scalar_subquery())
ACTOR_BY_SESSION = (select(*ACTOR_COLUMNS, col(UserSession.last_seen_at),
                           col(UserSession.created_at),
                           REVISION.scalar_subquery().label("revision"),
                           UNREAD_OF_USER.label("unread"))
                    .join(UserSession, col(UserSession.user_id) == col(User.id))
                    .where(col(UserSession.id) == bindparam("session_hash"),
                           col(UserSession.ended_at).is_(None), col(User.is_active).is_(True),
                           col(User.role).is_not(None)))


def _actor_of(row: Any) -> Actor | None:
    """Return the actor of a row of ACTOR_COLUMNS, or None."""
    return None if row is None else Actor(id=row[0], role=Role(row[1]),
                                          organisation_id=row[2], email=row[3])


def password_mark(*, connection: Connection, user_id: int, key: str) -> str:
    """Return a keyed mark of a user's password, which changes whenever the password does.

    A cookie may carry it (not the hash, which a signed cookie would show to its holder).
    """
    stored = connection.execute(select(col(User.password_hash))
                                .where(col(User.id) == user_id)).scalar()
    return hmac.new(key.encode(), (stored or "").encode(), hashlib.sha256).hexdigest()[:32]


def actor_by_id(*, connection: Connection, user_id: int) -> Actor | None:
    """Return the actor of an active user by id, or None."""
    return _actor_of(connection.execute(ACTOR_BY_ID, {"user_id": user_id}).first())


def _token_hash(token: str) -> str:
    """Hash a token for storage; tokens are random, so a fast hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


TOKEN_DAYS = 90
TOKEN_MAX_DAYS = 365


def create_token(*, session: Session, actor: Actor, name: str, days: int = TOKEN_DAYS,
                 max_days: int = TOKEN_MAX_DAYS) -> dict[str, Any]:
    """Create an API token for the acting user, valid for some days; the secret is shown once."""
    require_signed_in_person(actor, "make API tokens")
    if actor.id is None:
        raise Invalid({"user": "only a signed-in user can hold a token"})
    # A user's tokens are named one at a time: two made at once under one name each saw none.
    one_at_a_time(session, f"api token names of user {actor.id}")
    errors: dict[str, str] = {}
    if not name.strip() or len(name) > 120:
        errors["name"] = "Give the token a name of 1 to 120 characters, such as nightly export."
    elif problem := control_problem(name):
        errors["name"] = problem
    elif _live_token_named(session, actor.id, name.strip()):
        errors["name"] = (f"You already have a token called {name.strip()!r}: choose another "
                          "name, or revoke that one first.")
    if not 1 <= days <= max_days:
        errors["days"] = f"A token lasts 1 to {max_days} days: choose fewer days."
    if errors:
        raise Invalid(errors)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=actor.id, name=name.strip(), prefix=secret[:12],
                     token_hash=_token_hash(secret), expires_at=utcnow() + timedelta(days=days))
    session.add(token)
    session.flush()
    record(session, actor, action="create", entity="api_token", entity_id=token.id,
           after={"name": token.name, "prefix": token.prefix,
                  "expires_at": token.expires_at.isoformat()})
    return {"id": token.id, "name": token.name, "prefix": token.prefix, "token": secret,
            "expires_at": token.expires_at.isoformat()}


def _live_token_named(session: Session, user_id: int, name: str) -> bool:
    """Tell whether a user holds a token of this name that still works (names are theirs)."""
    return session.execute(
        select(col(ApiToken.id)).where(col(ApiToken.user_id) == user_id,
                                       func.lower(ApiToken.name) == name.lower(),
                                       col(ApiToken.revoked_at).is_(None),
                                       col(ApiToken.expires_at) > utcnow())).first() is not None


def get_token(*, session: Session, actor: Actor, token_id: int) -> dict[str, Any]:
    """Return one of the acting user's tokens (never its secret), or raise NotFound."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != actor.id:
        raise NotFound("api token", token_id)
    return {"id": token.id, "name": token.name, "prefix": token.prefix,
            "expires_at": _iso(token.expires_at), "revoked": token.revoked_at is not None}


def actor_for_token(*, db: Database, token: str) -> Actor | None:
    """Return the actor an API token stands for, or None if unknown, revoked or expired."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    now = utcnow()
    with db.connect() as connection:
        row = connection.execute(ACTOR_BY_TOKEN, {"token_hash": _token_hash(token),
                                                  "now": now}).first()
    if row is None:
        return None
    if _stale(row.last_used_at, now):
        _touch(db, ("token-used", row.token_id), update(ApiToken)
               .where(col(ApiToken.id) == row.token_id).values(last_used_at=now))
    actor = _actor_of(row)
    assert actor is not None  # the row was found
    return replace(actor, by_token=True)


def _stale(seen: datetime | None, now: datetime) -> bool:
    """Tell whether a last-seen time is old enough to write again."""
    if seen is None:
        return True
    if seen.tzinfo is None:
        seen = seen.replace(tzinfo=now.tzinfo)
    return now - seen >= TOUCH_EVERY


def _touch(db: Database, key: tuple, statement: Any) -> None:
    """Write a last-seen time off the request, best effort (never when it cannot be written)."""

    def write() -> None:
        try:
            with db.write() as session:
                session.execute(statement)
        except UNWRITABLE as exc:
            LOG.debug("last-seen time not written: %s", exc)

    db.background.submit(key, write)


def revoke_token(*, session: Session, actor: Actor, token_id: int) -> None:
    """Revoke one of the acting user's tokens (admins may revoke any)."""
    require_signed_in_person(actor, "revoke API tokens")
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != actor.id and actor.role != Role.ADMIN):
        raise NotFound("api token", token_id)
    token.revoked_at = utcnow()
    session.add(token)
    record(session, actor, action="revoke", entity="api_token", entity_id=token.id)


def revoke_tokens(session: Session, user_id: int) -> int:
    """Revoke every working API token of a user; return how many."""
    return rows_changed(session.execute(
        update(ApiToken).where(col(ApiToken.user_id) == user_id,
                               col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def list_tokens(*, session: Session, actor: Actor) -> list[dict[str, Any]]:
    """List the acting user's tokens with their expiry and last use (never their secrets)."""
    rows: Sequence[ApiToken] = session.execute(
        select(ApiToken).where(col(ApiToken.user_id) == actor.id)
        .order_by(col(ApiToken.id))).scalars().all()
    now = utcnow()
    return [{"id": t.id, "name": t.name, "prefix": t.prefix,
             "created_at": _iso(t.created_at), "expires_at": _iso(t.expires_at),
             "last_used_at": _iso(t.last_used_at), "revoked": t.revoked_at is not None,
             "expired": _aware(t.expires_at) <= now} for t in rows]


def _aware(moment: datetime) -> datetime:
    """Return a time with its zone (SQLite hands back naive UTC times)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


# ---------------------------------------------------------------------------------------------
# Sessions: the cookie holds a random secret; the user_session row says whether it still counts.


@dataclass(frozen=True)
class SessionLimits:
    """How long a session lasts unused (idle) and at most (absolute)."""

    idle_seconds: int = 1800
    absolute_seconds: int = 8 * 3600

    @classmethod
    def of(cls, settings: Any) -> SessionLimits:
        """Return the limits a set of settings names."""
        return cls(idle_seconds=settings.session_idle_seconds,
                   absolute_seconds=settings.session_max_age_seconds)

    def alive(self, created: datetime, seen: datetime, now: datetime) -> bool:
        """Tell whether a session created and last seen at these times still counts."""
        return (now - _aware(created)).total_seconds() < self.absolute_seconds and (
            now - _aware(seen)).total_seconds() < self.idle_seconds


def _session_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start_session(*, db: Database, actor: Actor, client: str = "",
                  user_agent: str = "") -> str | None:
    """Store a new session for a signed-in user; return its secret (None: not writable)."""
    secret = secrets.token_urlsafe(32)
    try:
        with db.write() as session:
            session.execute(insert(UserSession).values(
                id=_session_hash(secret), user_id=actor.id, created_at=utcnow(),
                last_seen_at=utcnow(), client=client[:64],
                user_agent=control_free(user_agent)[:200]))
    except UNWRITABLE as exc:
        LOG.warning("session not stored (the database cannot be written): %s",
                    str(exc.orig)[:200])
        return None
    return secret


def control_free(text: str) -> str:
    """Return a header's text without control characters."""
    return "".join(ch for ch in text if ch.isprintable())


@dataclass(frozen=True)
class SessionRead:
    """A live session's actor, with the revision and unread count read in the same statement."""

    actor: Actor
    revision: int
    unread: int


def actor_for_session(*, db: Database, secret: str, limits: SessionLimits,
                      seen: float | None = None) -> SessionRead | None:
    """Return who a live session signs in (`SessionRead`), or None: unknown, ended, idle or too old.

    `seen` is when this browser was last served (kept in its cookie): while the database
    cannot be written, the stored last-seen time stands still and this keeps the session alive.
    """
    if not secret or len(secret) > 100:
        return None
    now = utcnow()
    key = _session_hash(secret)
    with db.connect() as connection:
        row = connection.execute(ACTOR_BY_SESSION, {"session_hash": key}).first()
    if row is None:
        return None
    last = _aware(row.last_seen_at)
    if seen is not None:
        last = max(last, datetime.fromtimestamp(seen, tz=now.tzinfo))
    if not limits.alive(row.created_at, last, now):
        return None
    if _stale(row.last_seen_at, now):
        _touch(db, ("session-seen", key), update(UserSession).where(col(UserSession.id) == key)
               .values(last_seen_at=now))
    actor = _actor_of(row)
    assert actor is not None  # a row was found
    return SessionRead(actor, int(row.revision or 0), int(row.unread or 0))


def end_session(*, db: Database, secret: str) -> None:
    """End one session (sign-out); a copy of its cookie then signs nobody in."""
    with db.write() as session:
        session.execute(update(UserSession).where(col(UserSession.id) == _session_hash(secret),
                                                  col(UserSession.ended_at).is_(None))
                        .values(ended_at=utcnow()))


def end_sessions(session: Session, user_id: int, keep: str | None = None) -> int:
    """End every session of a user (but the one whose secret is `keep`); return how many."""
    query = update(UserSession).where(col(UserSession.user_id) == user_id,
                                      col(UserSession.ended_at).is_(None))
    if keep:
        query = query.where(col(UserSession.id) != _session_hash(keep))
    return rows_changed(session.execute(query.values(ended_at=utcnow())))


def sign_out_everywhere(*, session: Session, actor: Actor) -> int:
    """End every session of the acting user (this one too)."""
    require_signed_in_person(actor, "end sessions")
    ended = end_sessions(session, actor.id or 0)
    record(session, actor, action="sign_out_everywhere", entity="user", entity_id=actor.id,
           after={"sessions_ended": ended})
    return ended


def list_sessions(*, session: Session, actor: Actor, limits: SessionLimits,
                  current: str | None = None) -> list[dict[str, Any]]:
    """List the acting user's live sessions, newest first, marking the one asking."""
    now = utcnow()
    mine = _session_hash(current) if current else None
    rows: Sequence[UserSession] = session.execute(
        select(UserSession).where(col(UserSession.user_id) == actor.id,
                                  col(UserSession.ended_at).is_(None),
                                  col(UserSession.created_at) > now - timedelta(
                                      seconds=limits.absolute_seconds))
        .order_by(col(UserSession.created_at).desc())).scalars().all()
    return [{"started_at": _iso(r.created_at), "last_seen_at": _iso(r.last_seen_at),
             "client": r.client, "user_agent": r.user_agent, "current": r.id == mine}
            for r in rows if limits.alive(r.created_at, r.last_seen_at, now)
            or r.id == mine]
