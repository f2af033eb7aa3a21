-- Policy-create batches in a few set-based statements instead of one subtransaction, one function
-- call and one NOTIFY per write. Same results as 004's loop, write for write:
--
-- * Tags: the apps that have none get the lowest free tags (from weft_tag_floor up), in the order
--   the loop would claim them: by the first write that names the app, then by GUID.
-- * Policies: each write inserts those of its policies that neither exist nor were inserted by an
--   earlier write of the batch. Rows go in in write order, so ids (the list order) follow it.
-- * Each write that inserted something gets the next revision, in write order, and its own
--   weft_changes row ({"apps": its GUIDs sorted, "created": n}); a write that inserted nothing
--   gets NULL. The revision row is updated once, and one NOTIFY carries the batch's last revision
--   (listeners read weft_changes from their own revision on, so they miss nothing).
--
-- It covers batches made only of unquoted policy creates (admins; the benchmark's and the common
-- case). The write batcher calls it for such a batch as a statement of its own, one transaction
-- without subtransactions; if it fails (no free tag above the floor, a constraint), nothing of it
-- is left and the batcher runs the batch again through weft_apply (004), whose loop gives every
-- write its own outcome. Quota (non-admin) creates and app upserts always take weft_apply.

-- jit off: the planner guesses 100 elements per JSON array, so these statements look costly
-- enough to be JIT-compiled, which takes tens of milliseconds for a batch that runs in one.
CREATE FUNCTION weft_apply_policy_creates(p_writes jsonb) RETURNS jsonb LANGUAGE plpgsql SET jit = off AS $$
DECLARE
  floor_tag integer;
  new_guids text[];
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
  SELECT array_agg(g ORDER BY i, g) INTO new_guids FROM untagged;
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
  SELECT jsonb_agg(jsonb_build_object('rev', b.base + nb.rn) ORDER BY w.i)
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
