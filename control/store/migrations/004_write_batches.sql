-- Faster policy and app writes, same semantics.
--
-- 1. Tag allocation starts at a floor. Every tag below weft_tag_floor.value is claimed, so the
--    lowest free tag is found without stepping over the index entries that earlier claims left
--    behind in tags_free_idx (until vacuumed they made each claim slower as apps accumulated).
--    The floor only moves up when a tag is claimed and down when one is freed, both under the
--    revision lock; if it were ever stale, the claim falls back to a scan from tag 1.
-- 2. weft_apply runs a batch of writes (policy creates, app upserts) in one transaction, one after
--    the other in the given order, each in its own subtransaction. Each write gets its own revision
--    (or NULL when it changed nothing) or its own error, exactly as if it had run alone; the batch
--    pays for one commit, one WAL flush, instead of one per write. Writers are still serialised on
--    the revision row, so revisions stay strictly increasing in commit order.

CREATE TABLE weft_tag_floor (
  id integer PRIMARY KEY CHECK (id = 1),
  value integer NOT NULL
);
INSERT INTO weft_tag_floor (id, value) SELECT 1, coalesce(min(tag), 65536) FROM tags WHERE guid IS NULL;

CREATE FUNCTION weft_claim_tag(p_guid text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  floor_tag integer;
  t integer;
BEGIN
  SELECT value INTO floor_tag FROM weft_tag_floor WHERE id = 1;
  SELECT tag INTO t FROM tags WHERE guid IS NULL AND tag >= floor_tag ORDER BY tag LIMIT 1;
  IF NOT FOUND THEN
    SELECT tag INTO t FROM tags WHERE guid IS NULL ORDER BY tag LIMIT 1;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'no free tags: at most 65535 apps can be in policies' USING ERRCODE = 'WT001';
    END IF;
  END IF;
  UPDATE tags SET guid = p_guid, type = 'app' WHERE tag = t;
  UPDATE weft_tag_floor SET value = t + 1 WHERE id = 1;
  RETURN t;
END
$$;

CREATE OR REPLACE FUNCTION weft_free_unused_tags(p_guids text[]) RETURNS void LANGUAGE sql AS $$
  WITH freed AS (
    UPDATE tags t SET guid = NULL, type = NULL
    WHERE t.guid = ANY (p_guids)
      AND NOT EXISTS (SELECT 1 FROM policies p WHERE p.source_guid = t.guid)
      AND NOT EXISTS (SELECT 1 FROM policies p WHERE p.dest_guid = t.guid)
    RETURNING t.tag
  )
  UPDATE weft_tag_floor f SET value = least(f.value, m.tag)
  FROM (SELECT min(tag) AS tag FROM freed) m
  WHERE f.id = 1 AND m.tag IS NOT NULL
$$;

-- As in 001, with the claim through weft_claim_tag.
CREATE OR REPLACE FUNCTION weft_create_policies(p_policies jsonb, p_quota integer) RETURNS bigint LANGUAGE plpgsql AS $$
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
      PERFORM weft_claim_tag(g);
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

-- Registers or updates an app. Returns the new revision, or NULL when nothing changed.
CREATE FUNCTION weft_upsert_app(p_guid text, p_name text, p_space text, p_org text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n integer;
BEGIN
  PERFORM weft_lock();
  INSERT INTO apps (guid, name, space_guid, org_guid) VALUES (p_guid, p_name, p_space, p_org)
  ON CONFLICT (guid) DO UPDATE SET name = EXCLUDED.name, space_guid = EXCLUDED.space_guid,
    org_guid = EXCLUDED.org_guid, updated_at = now()
  WHERE (apps.name, apps.space_guid, apps.org_guid) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.space_guid, EXCLUDED.org_guid);
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  RETURN weft_bump('apps', jsonb_build_object('apps', jsonb_build_array(p_guid)));
END
$$;

-- p_writes: [{"k": "policies", "p": [<as weft_create_policies>], "q": quota|null}
--            | {"k": "app", "g": guid, "n": name, "s": space, "o": org}, ...].
-- Returns one result per write, in order: {"rev": revision|null} or {"code": SQLSTATE, "message": ...}.
CREATE FUNCTION weft_apply(p_writes jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  w jsonb;
  rev bigint;
  results jsonb := '[]'::jsonb;
BEGIN
  PERFORM weft_lock();
  FOR w IN SELECT e.value FROM jsonb_array_elements(p_writes) WITH ORDINALITY AS e(value, i) ORDER BY e.i LOOP
    BEGIN
      CASE w->>'k'
        WHEN 'policies' THEN rev := weft_create_policies(w->'p', (w->>'q')::integer);
        WHEN 'app' THEN rev := weft_upsert_app(w->>'g', w->>'n', w->>'s', w->>'o');
        ELSE RAISE EXCEPTION 'unknown write kind %', w->>'k';
      END CASE;
      results := results || jsonb_build_array(jsonb_build_object('rev', rev));
    EXCEPTION WHEN OTHERS THEN
      results := results || jsonb_build_array(jsonb_build_object('code', SQLSTATE, 'message', SQLERRM));
    END;
  END LOOP;
  RETURN results;
END
$$;
