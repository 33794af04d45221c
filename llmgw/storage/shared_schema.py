"""m017 on PostgreSQL: the state instances sharing one database agree on (issue #23).

- `llmgw_instances` (storage/instances.py): each running gateway's heartbeat; a hold or a share of a rate
  limit counts only while its instance is seen.
- `budget_spend` (storage/budget_spend.py): USD spent per user and key per UTC day and month, kept by
  statement triggers on `usage_hourly`, so every ledger row any instance writes (the spool's replays and
  a `db copy` included) counts, whatever the limits were then; seeded from the rollups here.
- `budget_holds` (storage/budget_holds.py): the worst cases reserved by requests in flight, and
  `llmgw_budget_reserve`, the one call that checks and holds.
- `upstream_key_events` (storage/key_events.py): upstream-stated cool-downs and rejections of upstream
  keys, by provider, slot and mask (never the key, nor a hash of it).
- `login_failures` (storage/login_failures.py): the login throttle's counts.

SQLite's m017 creates nothing: one SQLite file has one `llmgw serve` (the serve lock), whose memory is
already the whole truth, so nothing would ever read these tables there, and `db copy` has no per-run
state to carry over.
"""

from __future__ import annotations

__all__ = ["KEY_LOCK", "SEED_BUDGET_SPEND", "USER_LOCK", "m017"]

# Namespaces of the two-key advisory locks that serialise reservations per subject (the one-key locks
# of accounts and migrations are another key space).
USER_LOCK = 0x6C6C6D70
KEY_LOCK = 0x6C6C6D71


def _spend_function(name: str, changes: str) -> str:
    """A trigger function adding what a statement changed in the rollups' cost to `budget_spend`, per
    user and key, day and month; `changes` selects (user_id, api_key_id, hour_start, nusd) from the
    statement's transition tables (an INSERT has no old rows, so its function has its own)."""
    return f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH c AS ({changes})
    INSERT INTO budget_spend AS s (scope, subject_id, period, period_start, cost_nusd)
    SELECT d.scope, d.subject_id, p.period, p.period_start, sum(d.nusd)
    FROM (
        SELECT 'user' AS scope, user_id AS subject_id, hour_start, nusd FROM c WHERE user_id <> 0
        UNION ALL
        SELECT 'key', api_key_id, hour_start, nusd FROM c WHERE api_key_id <> 0
    ) AS d
    CROSS JOIN LATERAL (VALUES ('day', d.hour_start - d.hour_start % 86400),
                               ('month', llmgw_month_start(d.hour_start))) AS p (period, period_start)
    GROUP BY 1, 2, 3, 4
    HAVING sum(d.nusd) <> 0
    ON CONFLICT (scope, subject_id, period, period_start)
        DO UPDATE SET cost_nusd = s.cost_nusd + excluded.cost_nusd;
    RETURN NULL;
END
$$;"""


_M017 = f"""
CREATE TABLE llmgw_instances (
    instance TEXT PRIMARY KEY,
    started_at DOUBLE PRECISION NOT NULL,
    seen_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE budget_spend (
    scope TEXT NOT NULL CHECK (scope IN ('user', 'key')),
    subject_id BIGINT NOT NULL,
    period TEXT NOT NULL CHECK (period IN ('day', 'month')),
    period_start BIGINT NOT NULL,
    cost_nusd BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, subject_id, period, period_start)
);

CREATE TABLE budget_holds (
    request_id TEXT PRIMARY KEY,
    instance TEXT NOT NULL,
    user_id BIGINT,
    api_key_id BIGINT,
    amount_nusd BIGINT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX idx_budget_holds_user ON budget_holds (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX idx_budget_holds_key ON budget_holds (api_key_id) WHERE api_key_id IS NOT NULL;
CREATE INDEX idx_budget_holds_instance ON budget_holds (instance);

CREATE TABLE upstream_key_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance TEXT NOT NULL,
    provider TEXT NOT NULL,
    slot BIGINT NOT NULL,
    mask TEXT NOT NULL,
    model TEXT,
    key_wide BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    status BIGINT NOT NULL,
    reason TEXT,
    until DOUBLE PRECISION,
    at DOUBLE PRECISION NOT NULL
);

CREATE TABLE login_failures (
    kind TEXT NOT NULL CHECK (kind IN ('pair', 'address', 'account')),
    name TEXT NOT NULL,
    count BIGINT NOT NULL,
    last DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE INDEX idx_login_failures_last ON login_failures (last);

CREATE FUNCTION llmgw_month_start(t BIGINT) RETURNS BIGINT IMMUTABLE LANGUAGE sql AS $$
    SELECT extract(epoch FROM date_trunc('month', to_timestamp(t) AT TIME ZONE 'UTC'))::bigint
$$;

{
    _spend_function(
        "llmgw_spend_inserted", "SELECT user_id, api_key_id, hour_start, cost_nusd AS nusd FROM new_rows"
    )
}

{
    _spend_function(
        "llmgw_spend_updated",
        "SELECT user_id, api_key_id, hour_start, cost_nusd AS nusd FROM new_rows "
        "UNION ALL SELECT user_id, api_key_id, hour_start, -cost_nusd FROM old_rows",
    )
}

CREATE TRIGGER usage_hourly_spend_inserted AFTER INSERT ON usage_hourly
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION llmgw_spend_inserted();
CREATE TRIGGER usage_hourly_spend_updated AFTER UPDATE ON usage_hourly
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION llmgw_spend_updated();

CREATE FUNCTION llmgw_budget_reserve(
    p_request TEXT, p_instance TEXT, p_cost BIGINT, p_stale DOUBLE PRECISION,
    p_user BIGINT, p_user_budget BIGINT, p_user_period TEXT, p_user_start BIGINT,
    p_key BIGINT, p_key_budget BIGINT, p_key_period TEXT, p_key_start BIGINT
) RETURNS TABLE (refused TEXT, spent BIGINT, reserved BIGINT) LANGUAGE plpgsql AS $$
DECLARE
    live_after DOUBLE PRECISION := extract(epoch FROM clock_timestamp()) - p_stale;
    s BIGINT;
    r BIGINT;
BEGIN
    IF p_user_budget IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock({USER_LOCK}, (p_user % 2147483647)::int);
    END IF;
    IF p_key_budget IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock({KEY_LOCK}, (p_key % 2147483647)::int);
    END IF;
    IF p_user_budget IS NOT NULL THEN
        SELECT coalesce(max(b.cost_nusd), 0) INTO s FROM budget_spend AS b
            WHERE b.scope = 'user' AND b.subject_id = p_user AND b.period = p_user_period
              AND b.period_start = p_user_start;
        SELECT coalesce(sum(h.amount_nusd), 0) INTO r FROM budget_holds AS h
            JOIN llmgw_instances AS i ON i.instance = h.instance
            WHERE h.user_id = p_user AND i.seen_at > live_after;
        IF s + r + p_cost > p_user_budget THEN
            RETURN QUERY SELECT 'user'::text, s, r;
            RETURN;
        END IF;
    END IF;
    IF p_key_budget IS NOT NULL THEN
        SELECT coalesce(max(b.cost_nusd), 0) INTO s FROM budget_spend AS b
            WHERE b.scope = 'key' AND b.subject_id = p_key AND b.period = p_key_period
              AND b.period_start = p_key_start;
        SELECT coalesce(sum(h.amount_nusd), 0) INTO r FROM budget_holds AS h
            JOIN llmgw_instances AS i ON i.instance = h.instance
            WHERE h.api_key_id = p_key AND i.seen_at > live_after;
        IF s + r + p_cost > p_key_budget THEN
            RETURN QUERY SELECT 'key'::text, s, r;
            RETURN;
        END IF;
    END IF;
    INSERT INTO budget_holds (request_id, instance, user_id, api_key_id, amount_nusd, created_at)
    VALUES (p_request, p_instance,
            CASE WHEN p_user_budget IS NOT NULL THEN p_user END,
            CASE WHEN p_key_budget IS NOT NULL THEN p_key END,
            p_cost, extract(epoch FROM clock_timestamp()))
    ON CONFLICT (request_id) DO UPDATE SET amount_nusd = excluded.amount_nusd;
    RETURN QUERY SELECT NULL::text, 0::bigint, 0::bigint;
END
$$;
"""

# The spend of the last two months, from the rollups: what the triggers would have counted.
SEED_BUDGET_SPEND = """
INSERT INTO budget_spend (scope, subject_id, period, period_start, cost_nusd)
SELECT d.scope, d.subject_id, p.period, p.period_start, sum(d.nusd)
FROM (
    SELECT 'user' AS scope, user_id AS subject_id, hour_start, cost_nusd AS nusd FROM usage_hourly
        WHERE user_id <> 0 AND hour_start >= extract(epoch FROM now())::bigint - 62 * 86400
    UNION ALL
    SELECT 'key', api_key_id, hour_start, cost_nusd FROM usage_hourly
        WHERE api_key_id <> 0 AND hour_start >= extract(epoch FROM now())::bigint - 62 * 86400
) AS d
CROSS JOIN LATERAL (VALUES ('day', d.hour_start - d.hour_start % 86400),
                           ('month', llmgw_month_start(d.hour_start))) AS p (period, period_start)
GROUP BY 1, 2, 3, 4
HAVING sum(d.nusd) <> 0
"""


def m017() -> list[str]:
    """m017's statements on PostgreSQL."""
    from llmgw.storage.pg_schema import split

    return [*split(_M017), SEED_BUDGET_SPEND]
