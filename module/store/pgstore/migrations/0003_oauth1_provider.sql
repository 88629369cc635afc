-- The gateway as OAuth 1.0a service provider: incoming links that are
-- consumers, the token secret of their access tokens, request tokens and
-- nonces.

-- A link with oauth1 set is an OAuth 1.0a consumer; its client_id is the
-- consumer key and its shared secret, if any, is its first link secret.
ALTER TABLE links
	ADD COLUMN oauth1 boolean NOT NULL DEFAULT false,
	ADD COLUMN consumer_public_key text NOT NULL DEFAULT '',
	ADD COLUMN consumer_callback text NOT NULL DEFAULT '',
	ADD COLUMN two_legged boolean NOT NULL DEFAULT false,
	ADD COLUMN execute_as text COLLATE "C" NOT NULL DEFAULT '',
	ADD COLUMN impersonation boolean NOT NULL DEFAULT false;

-- The sealed token secret of an OAuth 1.0a access token (HMAC-SHA1).
ALTER TABLE tokens ADD COLUMN sealed_secret bytea;

-- Request tokens by hash; used_at is set once exchanged (or refused).
CREATE TABLE request_tokens (
	hash bytea PRIMARY KEY,
	link_id text COLLATE "C" NOT NULL,
	consumer_key text COLLATE "C" NOT NULL,
	callback text NOT NULL,
	sealed_secret bytea,
	verifier_hash bytea,
	user_id text COLLATE "C" NOT NULL,
	scope text NOT NULL,
	auth_time timestamptz,
	used_at timestamptz,
	grant_id text COLLATE "C" NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);
CREATE INDEX request_tokens_expires_at ON request_tokens (expires_at);

-- Nonces of signed requests, by the hash of consumer key, timestamp,
-- nonce and token, kept while the timestamp is acceptable.
CREATE TABLE nonces (
	hash bytea PRIMARY KEY,
	expires_at timestamptz NOT NULL
);
CREATE INDEX nonces_expires_at ON nonces (expires_at);
