-- Outgoing OAuth 1.0a links (the gateway as consumer of an Atlassian
-- product). It needs nothing of other migrations after 0001.

-- An OAuth 1.0a link's application URL and consumer key, as JSON; NULL
-- for an OAuth 2.0 link, which has a provider instead.
ALTER TABLE outgoing_links ADD COLUMN oauth1 json;

-- The gateway's consumer key and RSA key pair (PKCS #8, sealed): at most
-- one row.
CREATE TABLE consumer_identity (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	consumer_key text NOT NULL,
	sealed bytea NOT NULL,
	created_at timestamptz NOT NULL
);
