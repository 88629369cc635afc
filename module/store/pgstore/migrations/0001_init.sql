-- The first schema of the applinks store. Ids and names are compared and
-- ordered byte-wise (COLLATE "C"), whatever the database's locale. Times
-- that may be unset are NULL; hashes and sealed values are bytea.

-- Incoming links created at runtime. Links declared in the configuration
-- are not stored, so grants and codes name a link without a foreign key.
CREATE TABLE links (
	id text COLLATE "C" PRIMARY KEY,
	name text COLLATE "C" NOT NULL UNIQUE,
	client_id text COLLATE "C" NOT NULL UNIQUE,
	redirect_uris text[],
	ceiling text NOT NULL,
	require_pkce boolean NOT NULL,
	public boolean NOT NULL DEFAULT false,
	service_user text NOT NULL DEFAULT '',
	registered boolean NOT NULL DEFAULT false,
	disabled boolean NOT NULL DEFAULT false,
	last_used_at timestamptz,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	created_by text NOT NULL
);

-- The client secrets of a link, sealed, in the link's order.
CREATE TABLE link_secrets (
	link_id text COLLATE "C" NOT NULL REFERENCES links (id) ON DELETE CASCADE,
	position integer NOT NULL,
	sealed bytea,
	created_at timestamptz NOT NULL,
	expires_at timestamptz,
	PRIMARY KEY (link_id, position)
);

-- Authorization codes by hash; grant_id is set once redeemed.
CREATE TABLE codes (
	hash bytea PRIMARY KEY,
	link_id text COLLATE "C" NOT NULL,
	client_id text COLLATE "C" NOT NULL,
	user_id text COLLATE "C" NOT NULL,
	redirect_uri text NOT NULL,
	scope text NOT NULL,
	code_challenge text NOT NULL,
	code_challenge_method text NOT NULL,
	nonce text NOT NULL,
	oidc_scopes text[],
	auth_time timestamptz,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	grant_id text COLLATE "C" NOT NULL,
	resource text NOT NULL DEFAULT ''
);
CREATE INDEX codes_expires_at ON codes (expires_at);

-- Grants: one user's authorization of one link, the family of its tokens.
-- expires_at NULL means never.
CREATE TABLE grants (
	id text COLLATE "C" PRIMARY KEY,
	link_id text COLLATE "C" NOT NULL,
	client_id text COLLATE "C" NOT NULL,
	user_id text COLLATE "C" NOT NULL,
	scope text NOT NULL,
	oidc_scopes text[],
	auth_time timestamptz,
	generation bigint NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	expires_at timestamptz,
	resource text NOT NULL DEFAULT ''
);
CREATE INDEX grants_user_link ON grants (user_id, link_id);
CREATE INDEX grants_link ON grants (link_id);
CREATE INDEX grants_expires_at ON grants (expires_at) WHERE expires_at IS NOT NULL;

-- The hashes of issued tokens; deleting a grant deletes its tokens. A
-- token is kept until expiry, the later of expires_at and keep_until.
CREATE TABLE tokens (
	hash bytea PRIMARY KEY,
	kind text NOT NULL,
	grant_id text COLLATE "C" NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
	generation bigint NOT NULL,
	scope text NOT NULL,
	issued_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	keep_until timestamptz,
	used_at timestamptz,
	access_hash bytea,
	sealed_child bytea,
	expiry timestamptz NOT NULL GENERATED ALWAYS AS (GREATEST(expires_at, keep_until)) STORED
);
CREATE INDEX tokens_grant ON tokens (grant_id);
CREATE INDEX tokens_expiry ON tokens (expiry);

-- Sign-in sessions by the hash of their cookie.
CREATE TABLE sessions (
	hash bytea PRIMARY KEY,
	user_id text COLLATE "C" NOT NULL,
	stamp text NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Users created at runtime.
CREATE TABLE users (
	name text COLLATE "C" PRIMARY KEY,
	password_hash text NOT NULL,
	role text NOT NULL,
	disabled boolean NOT NULL,
	provider text NOT NULL,
	subject text NOT NULL,
	stamp text NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);

-- The subject (OpenID Connect sub) of each user.
CREATE TABLE subjects (
	user_id text COLLATE "C" PRIMARY KEY,
	subject text NOT NULL,
	created_at timestamptz NOT NULL
);

-- Token-signing keys, sealed; expires_at NULL means kept forever.
CREATE TABLE signing_keys (
	id text COLLATE "C" PRIMARY KEY,
	algorithm text NOT NULL,
	sealed bytea,
	created_at timestamptz NOT NULL,
	retired_at timestamptz,
	expires_at timestamptz
);
CREATE INDEX signing_keys_expires_at ON signing_keys (expires_at) WHERE expires_at IS NOT NULL;

-- The at-rest key check: at most one row.
CREATE TABLE key_check (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	kind text NOT NULL,
	mac bytea NOT NULL,
	created_at timestamptz NOT NULL
);

-- Outgoing authorizations in progress, by the hash of their state.
CREATE TABLE pending (
	state_hash bytea PRIMARY KEY,
	link_id text COLLATE "C" NOT NULL,
	user_id text COLLATE "C" NOT NULL,
	sealed_verifier bytea,
	return_to text NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);
CREATE INDEX pending_expires_at ON pending (expires_at);

-- Outgoing links created at runtime. Links declared in the configuration
-- are not stored, so connections name a link without a foreign key.
-- provider is json, not jsonb, to keep the module's JSON as written.
CREATE TABLE outgoing_links (
	name text COLLATE "C" PRIMARY KEY,
	provider json,
	client_id text NOT NULL,
	sealed_secret bytea,
	scopes text[],
	mode text NOT NULL,
	created_at timestamptz NOT NULL,
	created_by text NOT NULL
);

-- Provider tokens of outgoing links, sealed; user_id is '' for a shared
-- link's connection.
CREATE TABLE connections (
	link_id text COLLATE "C" NOT NULL,
	user_id text COLLATE "C" NOT NULL,
	sealed bytea,
	expiry timestamptz,
	status text NOT NULL,
	last_error text NOT NULL,
	failures integer NOT NULL,
	retry_at timestamptz,
	generation bigint NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	PRIMARY KEY (link_id, user_id)
);
CREATE INDEX connections_user ON connections (user_id);
