"""Django email backend that enqueues each message in Outbox's PostgreSQL queue.

Every message goes through ``SELECT <schema>.enqueue(raw, mail_from, rcpt_to, options)`` on
Django's own database connection, so mail sent inside ``transaction.atomic()`` is committed, or
rolled back, with the application's data. An Outbox worker on the same PostgreSQL database
delivers it once committed.
"""

import datetime
import json
import re
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.base import BaseEmailBackend
from django.db import DEFAULT_DB_ALIAS, Error as DatabaseError, connections, transaction
from django.utils import timezone

try:  # Django's own address handling, as its SMTP backend uses it.
    from django.core.mail.message import sanitize_address
except ImportError:  # pragma: no cover - a Django without it
    sanitize_address = None

PRIORITIES = ("now", "high", "normal", "low")

# The schema names Outbox itself accepts (src/store/postgres/driver.ts): a plain lower-case
# identifier, so quoting it can never change what it names.
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

# SQLSTATEs meaning the enqueue() function is not there: no such schema, or no such function.
MISSING_FUNCTION = ("3F000", "42883")


def _setting(name, default):
    return getattr(settings, name, default)


def _check_tags(tags, where, error=ImproperlyConfigured):
    """A list of tags (their content is checked by enqueue(): OB001 naming the tag)."""
    if tags is None:
        return None
    if isinstance(tags, str) or not isinstance(tags, (list, tuple)):
        raise error("%s must be a list of strings, not %r." % (where, tags))
    for tag in tags:
        if not isinstance(tag, str):
            raise error("%s must be a list of strings; %r is not one." % (where, tag))
    return list(tags)


def _envelope_address(address, encoding):
    """The bare address for the SMTP envelope, found the way Django's SMTP backend finds it."""
    if sanitize_address is not None:
        address = sanitize_address(address, encoding)
    elif isinstance(address, tuple):  # pragma: no cover
        address = address[1]
    return parseaddr(address)[1]


def _sql_code(error):
    """The SQLSTATE of a database error that Django wrapped (psycopg2 or psycopg 3)."""
    for candidate in (error, getattr(error, "__cause__", None)):
        if candidate is None:
            continue
        code = getattr(candidate, "pgcode", None) or getattr(candidate, "sqlstate", None)
        if code:
            return code
        diag = getattr(candidate, "diag", None)
        code = getattr(diag, "sqlstate", None)
        if code:
            return code
    return None


class Backend(BaseEmailBackend):
    """``EMAIL_BACKEND = 'outbox_django.Backend'``.

    Settings (all optional):

    - ``OUTBOX_DATABASE``: the alias in ``DATABASES`` whose connection enqueues (``'default'``).
    - ``OUTBOX_SCHEMA``: the PostgreSQL schema holding Outbox's queue (``'outbox'``).
    - ``OUTBOX_PRIORITY``: ``'now'``, ``'high'``, ``'normal'`` or ``'low'``; ``None`` leaves it
      to Outbox (``'normal'``).
    - ``OUTBOX_TAGS``: a list of tags for every message.

    A message may carry ``outbox_priority``, ``outbox_tags`` (added to ``OUTBOX_TAGS``),
    ``outbox_idempotency_key`` and ``outbox_send_at`` (a datetime) as attributes. After
    sending, ``message.outbox_id`` holds the queue id Outbox returned.
    """

    def __init__(self, fail_silently=False, using=None, schema=None, priority=None, tags=None,
                 **kwargs):
        super().__init__(fail_silently=fail_silently, **kwargs)
        self.using = using or _setting("OUTBOX_DATABASE", DEFAULT_DB_ALIAS)
        if self.using not in settings.DATABASES:
            raise ImproperlyConfigured(
                "OUTBOX_DATABASE %r is not an alias in DATABASES." % (self.using,)
            )
        self.schema = schema or _setting("OUTBOX_SCHEMA", "outbox")
        if not isinstance(self.schema, str) or not SCHEMA_NAME.fullmatch(self.schema):
            raise ImproperlyConfigured(
                "OUTBOX_SCHEMA %r is not a schema name Outbox uses: a plain lower-case "
                "identifier of at most 63 characters (a-z, 0-9, _; not starting with a digit)."
                % (self.schema,)
            )
        self.priority = priority if priority is not None else _setting("OUTBOX_PRIORITY", None)
        if self.priority is not None and self.priority not in PRIORITIES:
            raise ImproperlyConfigured(
                "OUTBOX_PRIORITY %r is not one of %s (or None for Outbox's default, normal)."
                % (self.priority, ", ".join(PRIORITIES))
            )
        self.tags = _check_tags(
            tags if tags is not None else _setting("OUTBOX_TAGS", None), "OUTBOX_TAGS"
        )

    def _connection(self):
        connection = connections[self.using]
        if connection.vendor != "postgresql":
            raise ImproperlyConfigured(
                "outbox_django.Backend enqueues through Outbox's SQL function, which only "
                "PostgreSQL has so far; database %r is %s. Use the SMTP mode instead: "
                "EMAIL_BACKEND = 'django.core.mail.backends.smtp.EmailBackend' with EMAIL_HOST "
                "and EMAIL_PORT pointing at Outbox's SMTP listener (127.0.0.1:2525 by default)."
                % (self.using, connection.vendor)
            )
        return connection

    def send_messages(self, email_messages):
        """Enqueues each message; returns how many were enqueued.

        Opens no transaction of its own: outside ``atomic()`` (autocommit) each message is
        committed by its own statement; inside, it is committed or rolled back with the
        caller's transaction. In a transaction each message runs in a savepoint, so a refused
        one leaves the caller's transaction usable (what matters with ``fail_silently``).
        """
        if not email_messages:
            return 0
        connection = self._connection()
        sql = "SELECT %s.enqueue(%%s::bytea, %%s::text, %%s::text[], %%s::jsonb)" % (
            connection.ops.quote_name(self.schema),
        )
        sent = 0
        for message in email_messages:
            if self._send(connection, sql, message):
                sent += 1
        return sent

    def _send(self, connection, sql, message):
        recipients = message.recipients()
        if not recipients:
            return False
        encoding = message.encoding or settings.DEFAULT_CHARSET
        mail_from = _envelope_address(message.from_email, encoding)
        rcpt_to = [_envelope_address(address, encoding) for address in recipients]
        raw = message.message().as_bytes(linesep="\r\n")
        params = [raw, mail_from, rcpt_to, json.dumps(self._options(message))]
        try:
            if connection.in_atomic_block or not connection.get_autocommit():
                # A savepoint inside the caller's transaction, not a transaction of our own.
                with transaction.atomic(using=self.using, savepoint=True):
                    queue_id = self._enqueue(connection, sql, params)
            else:
                queue_id = self._enqueue(connection, sql, params)
        except DatabaseError as error:
            if self.fail_silently:
                return False
            if _sql_code(error) in MISSING_FUNCTION:
                raise ImproperlyConfigured(
                    "Outbox's enqueue() function is not in schema %r of database %r (%s). "
                    "Let Outbox create or upgrade its schema there: `outbox migrate` with "
                    "OUTBOX_STORE=postgres://…/<database>?schema=%s, or start a worker on it."
                    % (self.schema, self.using, str(error).strip().splitlines()[0], self.schema)
                ) from error
            raise
        message.outbox_id = queue_id
        return True

    @staticmethod
    def _enqueue(connection, sql, params):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]

    def _options(self, message):
        options = {}
        priority = getattr(message, "outbox_priority", None) or self.priority
        if priority is not None:
            options["priority"] = priority
        # The message's own tags are added to the default ones (Outbox keeps each tag once).
        tags = (self.tags or []) + (
            _check_tags(getattr(message, "outbox_tags", None), "message.outbox_tags", TypeError)
            or []
        )
        if tags:
            options["tags"] = tags
        key = getattr(message, "outbox_idempotency_key", None)
        if key is not None:
            options["idempotency_key"] = str(key)
        send_at = getattr(message, "outbox_send_at", None)
        if send_at is not None:
            options["send_at"] = _timestamp(send_at)
        return options


def _timestamp(value):
    """ISO 8601 with an offset; a naive datetime is taken in Django's TIME_ZONE, as Django does."""
    if isinstance(value, str):
        return value
    if not isinstance(value, datetime.datetime):
        raise TypeError("outbox_send_at must be a datetime, not %r." % (value,))
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return value.isoformat()
