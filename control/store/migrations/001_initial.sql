-- Weft's schema: apps, tags, policies, routes, leases, instances, security groups, and the one
-- global revision. Every mutation takes the revision row lock first (weft_lock), so writers are
-- serialised and revisions are strictly increasing in commit order; a mutation that changed
-- something calls weft_bump, which records the change and NOTIFYs the other replicas.

CREATE TABLE weft_revision (
  id integer PRIMARY KEY CHECK (id = 1),
  value bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO weft_revision (id, value) VALUES (1, 0);

-- One row per committed revision: what kind of thing changed and which apps/cells it touches.
-- The control stream reads it to send deltas.
CREATE TABLE weft_changes (
  revision bigint PRIMARY KEY,
  kind text NOT NULL,
  detail jsonb NOT NULL DEFAULT '{}'::jsonb,
  at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE apps (
  guid text PRIMARY KEY,
  name text NOT NULL,
  space_guid text NOT NULL,
  org_guid text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX apps_name_idx ON apps (name);
CREATE INDEX apps_space_idx ON apps (space_guid);

-- Tags are 16-bit ids carried in the VXLAN GBP header. Like CF's groups table, every possible
-- tag is a row and a tag is claimed by setting guid; the lowest free row is the next tag.
CREATE TABLE tags (
  tag integer PRIMARY KEY CHECK (tag BETWEEN 1 AND 65535),
  guid text UNIQUE,
  type text
);
INSERT INTO tags (tag) SELECT generate_series(1, 65535);
CREATE INDEX tags_free_idx ON tags (tag) WHERE guid IS NULL;

CREATE TABLE policies (
  id bigserial PRIMARY KEY,
  source_guid text NOT NULL,
  dest_guid text NOT NULL,
  protocol text NOT NULL CHECK (protocol IN ('tcp', 'udp')),
  start_port integer NOT NULL CHECK (start_port BETWEEN 1 AND 65535),
  end_port integer NOT NULL CHECK (end_port BETWEEN start_port AND 65535),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (source_guid, dest_guid, protocol, start_port, end_port)
);
CREATE INDEX policies_dest_idx ON policies (dest_guid);

-- Internal routes (NAME.apps.internal) mapped to apps.
CREATE TABLE routes (
  host text PRIMARY KEY CHECK (host = lower(host)),
  app_guid text NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX routes_app_idx ON routes (app_guid);

-- A cell's overlay subnet, keyed by its underlay IP (silk-controller semantics).
CREATE TABLE leases (
  underlay_ip inet PRIMARY KEY,
  overlay_subnet cidr NOT NULL UNIQUE,
  cell_id text NOT NULL,
  acquired_at timestamptz NOT NULL DEFAULT now(),
  renewed_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);

CREATE TABLE instances (
  instance_guid text PRIMARY KEY,
  app_guid text NOT NULL,
  instance_index integer NOT NULL CHECK (instance_index >= 0),
  cell_id text NOT NULL,
  overlay_ip inet NOT NULL,
  ports jsonb NOT NULL DEFAULT '[]'::jsonb,
  lifecycle text NOT NULL DEFAULT 'running' CHECK (lifecycle IN ('running', 'staging', 'task')),
  registered_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instances_app_idx ON instances (app_guid);
CREATE INDEX instances_cell_idx ON instances (cell_id);

CREATE TABLE security_groups (
  guid text PRIMARY KEY,
  name text NOT NULL UNIQUE,
  rules jsonb NOT NULL DEFAULT '[]'::jsonb,
  running_default boolean NOT NULL DEFAULT false,
  staging_default boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE security_group_spaces (
  security_group_guid text NOT NULL REFERENCES security_groups (guid) ON DELETE CASCADE,
  space_guid text NOT NULL,
  lifecycle text NOT NULL CHECK (lifecycle IN ('running', 'staging')),
  PRIMARY KEY (security_group_guid, space_guid, lifecycle)
);
CREATE INDEX security_group_spaces_space_idx ON security_group_spaces (space_guid);

CREATE FUNCTION weft_lock() RETURNS bigint LANGUAGE sql AS $$
  SELECT value FROM weft_revision WHERE id = 1 FOR UPDATE
$$;

CREATE FUNCTION weft_bump(p_kind text, p_detail jsonb) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  rev bigint;
BEGIN
  UPDATE weft_revision SET value = value + 1, updated_at = now() WHERE id = 1 RETURNING value INTO rev;
  INSERT INTO weft_changes (revision, kind, detail) VALUES (rev, p_kind, p_detail);
  PERFORM pg_notify('weft_changes', json_build_object('revision', rev, 'kind', p_kind)::text);
  RETURN rev;
END
$$;

-- Frees the tags of the given apps that are no longer the source or destination of any policy.
CREATE FUNCTION weft_free_unused_tags(p_guids text[]) RETURNS void LANGUAGE sql AS $$
  UPDATE tags t SET guid = NULL, type = NULL
  WHERE t.guid = ANY (p_guids)
    AND NOT EXISTS (SELECT 1 FROM policies p WHERE p.source_guid = t.guid)
    AND NOT EXISTS (SELECT 1 FROM policies p WHERE p.dest_guid = t.guid)
$$;

-- Creates policies idempotently in one round trip. p_policies is a JSON array of
-- {"s": source, "d": dest, "p": protocol, "a": start, "b": end}. With p_quota set (non-admin
-- callers), no source app in the request may end up the source of more than p_quota policies.
-- Returns the new revision, or NULL when nothing changed.
CREATE FUNCTION weft_create_policies(p_policies jsonb, p_quota integer) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  g text;
  n integer;
  guids text[];
BEGIN
  PERFORM weft_lock();
  SELECT array_agg(DISTINCT x ORDER BY x) INTO guids FROM (
    SELECT e->>'s' AS x FROM jsonb_array_elements(p_policies) e
    UNION ALL SELECT e->>'d' FROM jsonb_array_elements(p_policies) e
  ) u;
  FOREACH g IN ARRAY coalesce(guids, '{}') LOOP
    PERFORM 1 FROM tags WHERE guid = g;
    IF NOT FOUND THEN
      UPDATE tags SET guid = g, type = 'app'
      WHERE tag = (SELECT tag FROM tags WHERE guid IS NULL ORDER BY tag LIMIT 1);
      IF NOT FOUND THEN
        RAISE EXCEPTION 'no free tags: at most 65535 apps can be in policies' USING ERRCODE = 'WT001';
      END IF;
    END IF;
  END LOOP;
  INSERT INTO policies (source_guid, dest_guid, protocol, start_port, end_port)
  SELECT e->>'s', e->>'d', e->>'p', (e->>'a')::integer, (e->>'b')::integer
  FROM jsonb_array_elements(p_policies) e
  ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  IF p_quota IS NOT NULL THEN
    PERFORM 1 FROM policies
    WHERE source_guid IN (SELECT DISTINCT e->>'s' FROM jsonb_array_elements(p_policies) e)
    GROUP BY source_guid HAVING count(*) > p_quota;
    IF FOUND THEN
      RAISE EXCEPTION 'policy quota exceeded' USING ERRCODE = 'WT002';
    END IF;
  END IF;
  RETURN weft_bump('policies', jsonb_build_object('apps', to_jsonb(guids), 'created', n));
END
$$;

-- Deletes exactly matching policies (missing ones are a no-op) and frees tags left unused.
-- Returns the new revision, or NULL when nothing changed.
CREATE FUNCTION weft_delete_policies(p_policies jsonb) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n integer;
  guids text[];
BEGIN
  PERFORM weft_lock();
  DELETE FROM policies p
  USING (
    SELECT DISTINCT e->>'s' AS s, e->>'d' AS d, e->>'p' AS pr, (e->>'a')::integer AS a, (e->>'b')::integer AS b
    FROM jsonb_array_elements(p_policies) e
  ) r
  WHERE p.source_guid = r.s AND p.dest_guid = r.d AND p.protocol = r.pr AND p.start_port = r.a AND p.end_port = r.b;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  SELECT array_agg(DISTINCT x) INTO guids FROM (
    SELECT e->>'s' AS x FROM jsonb_array_elements(p_policies) e
    UNION ALL SELECT e->>'d' FROM jsonb_array_elements(p_policies) e
  ) u;
  PERFORM weft_free_unused_tags(guids);
  RETURN weft_bump('policies', jsonb_build_object('apps', to_jsonb(guids), 'deleted', n));
END
$$;
