-- Scale-out: processes sharing one PostgreSQL split the accounts through leases.

-- Each running process, seen alive at heartbeat_at (processes divide the accounts among the live ones).
CREATE TABLE monitor_processes (
    holder       text PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL
);

-- Who polls an account, until when. A holder renews its leases well before they expire; an
-- expired lease may be taken by any process.
CREATE TABLE account_leases (
    account_id  integer PRIMARY KEY REFERENCES accounts (id),
    holder      text NOT NULL,
    acquired_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX account_leases_holder ON account_leases (holder);
