-- The control stream's tables: cells and their enforcement state, one-time join tokens, the CA,
-- and what a container certificate needs to be re-issued by control (its public key).

CREATE TABLE cells (
  cell_id text PRIMARY KEY,
  underlay_ip inet,
  joined_at timestamptz NOT NULL DEFAULT now(),
  -- Highest revision the cell reported enforced in its kernel.
  enforced_revision bigint NOT NULL DEFAULT 0,
  -- Lowest revision sent to the cell and not yet acked (NULL: nothing pending).
  pending_revision bigint,
  last_nack_revision bigint,
  last_nack_error text,
  last_nack_at timestamptz,
  last_contact timestamptz,
  connected boolean NOT NULL DEFAULT false,
  -- SHA-256 fingerprints of the cell certificates currently valid for this cell (the newest and,
  -- during a renewal, the one before). Any other certificate with this CN is refused.
  cert_fingerprints text[] NOT NULL DEFAULT '{}'
);

CREATE TABLE join_tokens (
  id text PRIMARY KEY,
  secret_hash text NOT NULL,
  cell_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  used_by text
);

-- Platform CA roots. Every replica signs with the same active root; during a rotation the
-- previous one stays trusted until it is retired.
CREATE TABLE ca_roots (
  id serial PRIMARY KEY,
  cert_pem text NOT NULL,
  key_pem text NOT NULL,
  state text NOT NULL CHECK (state IN ('active', 'previous', 'retired')),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ca_roots_one_active ON ca_roots (state) WHERE state = 'active';

ALTER TABLE instances ADD COLUMN space_guid text NOT NULL DEFAULT '';
ALTER TABLE instances ADD COLUMN org_guid text NOT NULL DEFAULT '';
-- SPKI (PEM) from the container's CSR, so control can re-issue (routes changed, renewal, CA
-- rotation) and push the certificate without the key ever leaving the cell.
ALTER TABLE instances ADD COLUMN public_key_pem text;
ALTER TABLE instances ADD COLUMN cert_not_after timestamptz;
