-- weft_apply_policy_creates (006) also reports the tags it claimed, so that the replica that
-- committed a batch can apply it to its in-memory state without reading it back (state-feed.ts).
-- Each write's result is {"rev": revision|null}, as before, plus "t": [[guid, tag], ...] on the
-- write that first names an app that got its tag in this batch (the same write whose
-- weft_changes row lists that app). Nothing else changes: same statements, same results.

CREATE OR REPLACE FUNCTION weft_apply_policy_creates(p_writes jsonb) RETURNS jsonb LANGUAGE plpgsql SET jit = off AS $$
DECLARE
  floor_tag integer;
  new_guids text[];
  new_firsts bigint[];
  claims jsonb := '{}'::jsonb;
  free_tags integer[];
  k integer;
  last bigint;
  results jsonb;
BEGIN
  -- weft_lock(), inlined: PostgreSQL plans a SQL function's body anew on every call.
  PERFORM 1 FROM weft_revision WHERE id = 1 FOR UPDATE;
  WITH named AS (
    SELECT w.i, p.v->>'s' AS g
    FROM jsonb_array_elements(p_writes) WITH ORDINALITY AS w(v, i), jsonb_array_elements(w.v->'p') AS p(v)
    UNION ALL
    SELECT w.i, p.v->>'d'
    FROM jsonb_array_elements(p_writes) WITH ORDINALITY AS w(v, i), jsonb_array_elements(w.v->'p') AS p(v)
  ), untagged AS (
    -- A scalar subquery, not NOT EXISTS: the planner would make that an anti join, and with its
    -- guess of 100 elements per JSON array it would hash all 65,535 tags for a handful of GUIDs.
    SELECT n.g, min(n.i) AS i FROM named n
    WHERE (SELECT t.tag FROM tags t WHERE t.guid = n.g) IS NULL
    GROUP BY n.g
  )
  SELECT array_agg(g ORDER BY i, g), array_agg(i ORDER BY i, g) INTO new_guids, new_firsts FROM untagged;
  IF new_guids IS NOT NULL THEN
    SELECT value INTO floor_tag FROM weft_tag_floor WHERE id = 1;
    SELECT array_agg(tag ORDER BY tag) INTO free_tags
    FROM (SELECT tag FROM tags WHERE guid IS NULL AND tag >= floor_tag ORDER BY tag LIMIT cardinality(new_guids)) f;
    IF coalesce(cardinality(free_tags), 0) < cardinality(new_guids) THEN
      -- Not enough free tags above the floor: the loop scans from tag 1 or reports the exhaustion.
      RAISE EXCEPTION 'no free tags above the floor' USING ERRCODE = 'WT001';
    END IF;
    -- One primary-key update per claim (a batch has a few): a cached generic plan for a join
    -- against tags would guess its size and scan the whole table.
    FOR k IN 1 .. cardinality(new_guids) LOOP
      UPDATE tags SET guid = new_guids[k], type = 'app' WHERE tag = free_tags[k];
    END LOOP;
    UPDATE weft_tag_floor SET value = free_tags[cardinality(free_tags)] + 1 WHERE id = 1;
    -- {"write index": [[guid, tag], ...]}: each claim reported on the write that first names the app.
    SELECT jsonb_object_agg(c.i::text, c.pairs) INTO claims
    FROM (SELECT u.i, jsonb_agg(jsonb_build_array(u.g, u.t) ORDER BY u.t) AS pairs
          FROM unnest(new_guids, new_firsts, free_tags) AS u(g, i, t) GROUP BY u.i) c;
  END IF;

  WITH r AS (
    SELECT w.i, p.j, p.v->>'s' AS s, p.v->>'d' AS d, p.v->>'p' AS pr, (p.v->>'a')::integer AS a, (p.v->>'b')::integer AS b
    FROM jsonb_array_elements(p_writes) WITH ORDINALITY AS w(v, i), jsonb_array_elements(w.v->'p') WITH ORDINALITY AS p(v, j)
  ), firsts AS (
    -- Each distinct policy of the batch, owned by the first write that names it.
    SELECT DISTINCT ON (s, d, pr, a, b) i, j, s, d, pr, a, b FROM r ORDER BY s, d, pr, a, b, i, j
  ), ins AS (
    INSERT INTO policies (source_guid, dest_guid, protocol, start_port, end_port)
    SELECT s, d, pr, a, b FROM firsts ORDER BY i, j
    ON CONFLICT DO NOTHING
    RETURNING source_guid, dest_guid, protocol, start_port, end_port
  ), per AS (
    SELECT f.i, count(*) AS n FROM ins
    JOIN firsts f ON (f.s, f.d, f.pr, f.a, f.b) = (ins.source_guid, ins.dest_guid, ins.protocol, ins.start_port, ins.end_port)
    GROUP BY f.i
  ), numbered AS (
    SELECT i, n, row_number() OVER (ORDER BY i) AS rn, count(*) OVER () AS k FROM per
  ), bump AS (
    UPDATE weft_revision SET value = value + (SELECT count(*) FROM per), updated_at = now()
    WHERE id = 1 AND EXISTS (SELECT 1 FROM per)
    RETURNING value - (SELECT count(*) FROM per) AS base
  ), changes AS (
    INSERT INTO weft_changes (revision, kind, detail)
    SELECT b.base + nb.rn, 'policies', jsonb_build_object(
      'apps', (SELECT to_jsonb(array_agg(DISTINCT x ORDER BY x)) FROM (SELECT s FROM r WHERE r.i = nb.i UNION ALL SELECT d FROM r WHERE r.i = nb.i) u(x)),
      'created', nb.n)
    FROM numbered nb CROSS JOIN bump b
    RETURNING revision
  )
  SELECT jsonb_agg(CASE WHEN claims ? w.i::text
                        THEN jsonb_build_object('rev', b.base + nb.rn, 't', claims -> w.i::text)
                        ELSE jsonb_build_object('rev', b.base + nb.rn) END ORDER BY w.i)
  INTO results
  FROM generate_series(1, jsonb_array_length(p_writes)) AS w(i)
  LEFT JOIN numbered nb ON nb.i = w.i
  LEFT JOIN bump b ON true;

  SELECT max((x->>'rev')::bigint) INTO last FROM jsonb_array_elements(results) AS x;
  IF last IS NOT NULL THEN
    PERFORM pg_notify('weft_changes', json_build_object('revision', last, 'kind', 'policies')::text);
  END IF;
  RETURN results;
END
$$;
