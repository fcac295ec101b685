-- 0004: the connect page. A link covers one or several providers of its bot, each linked once;
-- it names its chat user for the page and can be cancelled; one confirmation code covers every
-- identity of a link; the outbox carries link.completed.

-- One row per provider of a link, in the bot's order (the primary key, so a link reads back in
-- order without a sort). UNIQUE (link_id, provider) is what makes "each provider once per
-- link" hold: CompleteLink's conditional UPDATE of linked_at succeeds once.
-- identity_id has no foreign key: the identity may be unlinked while the link's record stays.
-- ON DELETE CASCADE: a link's providers go with it when old links are deleted.
CREATE TABLE link_providers (
	link_id     bigint      NOT NULL REFERENCES links (id) ON DELETE CASCADE,
	position    integer     NOT NULL,
	provider    text        NOT NULL,
	scopes      text[]      NOT NULL DEFAULT '{}',
	identity_id bigint,
	linked_at   timestamptz,
	PRIMARY KEY (link_id, position),
	UNIQUE (link_id, provider)
);

-- Every existing link had one provider; a used one had linked it (by an identity the link did
-- not record).
INSERT INTO link_providers (link_id, position, provider, scopes, linked_at)
	SELECT id, 0, provider, scopes, used_at FROM links;

-- The cap on open flows counts per link now (flows_link_id serves it), not per chat user.
DROP INDEX links_user;

ALTER TABLE links
	DROP COLUMN provider,
	DROP COLUMN scopes,
	ADD COLUMN user_label text NOT NULL DEFAULT '',
	ADD COLUMN cancelled_at timestamptz;

-- The identities of one link share one code: each has a confirmation with the link's id.
ALTER TABLE confirmations ADD COLUMN link_id bigint REFERENCES links (id) ON DELETE CASCADE;
CREATE INDEX confirmations_link ON confirmations (link_id);

-- link.completed lists the link's identities: a JSON array of {id, provider,
-- provider_user_id, status}; '' for every other event.
ALTER TABLE webhook_outbox ADD COLUMN identities text NOT NULL DEFAULT '';
