/*
 * pgsql_schema.c - the database schema, its versions and migrations.
 *
 * facteur_schema holds one row: the version of the last step applied.
 * Each step below takes the schema from the version before it to its
 * own, in one transaction, under an advisory lock so two `facteurctl db
 * migrate` (or two nodes with `schema auto`) never apply a step twice.
 * A node refuses to start when the database has no schema, an older one
 * (run `facteurctl db migrate`) or a newer one than this build knows.
 *
 * Everything that must be consistent under concurrent writers (UIDNEXT,
 * HIGHESTMODSEQ, quota use, keyword names) changes inside the functions
 * facteur_append, facteur_store, facteur_expunge, facteur_copy, ..., each
 * taking the mailbox row FOR UPDATE first: one round trip and one
 * transaction per change, and NOTIFY facteur with the mailbox's id on
 * commit.
 *
 * Errors the storage API knows are raised with SQLSTATEs of our own:
 * FCNOT no such mailbox, FCEXI exists, FCQUO over quota, FCLIM too many
 * keywords, FCEXP a message expunged, FCPRM not allowed.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include <facteur/log.h>

#include "pgsql.h"

/* advisory lock key for migrations: "FCTR" */
#define SCHEMA_LOCK	"1178817618"

static const char schema_v1[] =
"CREATE TABLE facteur_schema (version integer NOT NULL);\n"
"INSERT INTO facteur_schema VALUES (0);\n"

/* users */
"CREATE TABLE domains (\n"
"  name text PRIMARY KEY CHECK (name = lower(name) AND name <> ''),\n"
"  created timestamptz NOT NULL DEFAULT now());\n"
"CREATE TABLE users (\n"
"  name text PRIMARY KEY CHECK (name = lower(name) AND name <> ''),\n"
"  domain text REFERENCES domains ON DELETE CASCADE,\n"
"  password text NOT NULL DEFAULT '',\n"
"  home text,\n"
"  mail text,\n"
"  quota_bytes bigint NOT NULL DEFAULT 0,\n"
"  quota_messages bigint NOT NULL DEFAULT 0,\n"
"  created timestamptz NOT NULL DEFAULT now());\n"
"CREATE INDEX users_domain ON users (domain);\n"
"CREATE TABLE aliases (\n"
"  address text PRIMARY KEY CHECK (address = lower(address)),\n"
"  domain text REFERENCES domains ON DELETE CASCADE,\n"
"  target text NOT NULL);\n"

/* mail */
"CREATE TABLE stores (\n"
"  id bigserial PRIMARY KEY,\n"
"  owner text NOT NULL UNIQUE,\n"
"  last_uidvalidity bigint NOT NULL DEFAULT 0,\n"
"  bytes bigint NOT NULL DEFAULT 0,\n"
"  messages bigint NOT NULL DEFAULT 0);\n"
"CREATE TABLE mailboxes (\n"
"  id bigserial PRIMARY KEY,\n"
"  store_id bigint NOT NULL REFERENCES stores ON DELETE CASCADE,\n"
"  name text NOT NULL,\n"
"  special_use integer NOT NULL DEFAULT 0,\n"
"  uidvalidity bigint NOT NULL,\n"
"  uidnext bigint NOT NULL DEFAULT 1,\n"
"  highestmodseq bigint NOT NULL DEFAULT 1,\n"
"  keywords text[] NOT NULL DEFAULT '{}',\n"
"  UNIQUE (store_id, name));\n"
"CREATE TABLE subscriptions (\n"
"  store_id bigint NOT NULL REFERENCES stores ON DELETE CASCADE,\n"
"  name text NOT NULL,\n"
"  PRIMARY KEY (store_id, name));\n"
"CREATE TABLE bodies (\n"
"  hash bytea PRIMARY KEY,\n"
"  data bytea NOT NULL);\n"
"CREATE TABLE messages (\n"
"  mailbox_id bigint NOT NULL REFERENCES mailboxes ON DELETE CASCADE,\n"
"  uid bigint NOT NULL,\n"
"  modseq bigint NOT NULL,\n"
"  flags integer NOT NULL DEFAULT 0,\n"
"  keywords bigint NOT NULL DEFAULT 0,\n"
"  internal_date bigint NOT NULL,\n"
"  size bigint NOT NULL,\n"
"  size_crlf bigint NOT NULL,\n"
"  guid text NOT NULL,\n"
"  hash bytea NOT NULL REFERENCES bodies,\n"
"  PRIMARY KEY (mailbox_id, uid));\n"
"CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);\n"
"CREATE INDEX messages_hash ON messages (hash);\n"
"CREATE TABLE expunged (\n"
"  mailbox_id bigint NOT NULL REFERENCES mailboxes ON DELETE CASCADE,\n"
"  uid bigint NOT NULL,\n"
"  modseq bigint NOT NULL,\n"
"  PRIMARY KEY (mailbox_id, uid));\n"
"CREATE INDEX expunged_modseq ON expunged (mailbox_id, modseq);\n"

/* the next UIDVALIDITY of a store: now, or above every one given */
"CREATE FUNCTION facteur_uidvalidity(p_store bigint) RETURNS bigint\n"
"LANGUAGE sql AS $$\n"
"  UPDATE stores SET last_uidvalidity = greatest(\n"
"    extract(epoch FROM clock_timestamp())::bigint, last_uidvalidity + 1)\n"
"  WHERE id = p_store RETURNING last_uidvalidity $$;\n"

/* a user's store, made with its default mailboxes when new */
"CREATE FUNCTION facteur_store_open(p_owner text, p_create boolean,\n"
"    OUT sid bigint, OUT fresh boolean)\n"
"LANGUAGE plpgsql AS $$\n"
"BEGIN\n"
"  fresh := false;\n"
"  SELECT id INTO sid FROM stores WHERE owner = p_owner;\n"
"  IF FOUND OR NOT p_create THEN RETURN; END IF;\n"
"  INSERT INTO stores (owner) VALUES (p_owner) ON CONFLICT DO NOTHING\n"
"    RETURNING id INTO sid;\n"
"  IF NOT FOUND THEN\n"
"    SELECT id INTO sid FROM stores WHERE owner = p_owner;\n"
"    RETURN;\n"
"  END IF;\n"
"  fresh := true;\n"
"  INSERT INTO mailboxes (store_id, name, special_use, uidvalidity)\n"
"    SELECT sid, d.name, d.su, facteur_uidvalidity(sid)\n"
"    FROM (VALUES (1, 'INBOX', 0), (2, 'Sent', 256), (3, 'Drafts', 512),\n"
"      (4, 'Trash', 1024), (5, 'Junk', 2048), (6, 'Archive', 4096))\n"
"      AS d (o, name, su) ORDER BY d.o;\n"
"  INSERT INTO subscriptions SELECT m.store_id, m.name FROM mailboxes m\n"
"    WHERE m.store_id = sid;\n"
"END $$;\n"

/* keyword names to bits of a mailbox (locked by the caller) */
"CREATE FUNCTION facteur_keyword_bits(p_mailbox bigint, p_names text[],\n"
"    p_create boolean) RETURNS bigint\n"
"LANGUAGE plpgsql AS $$\n"
"DECLARE kws text[]; bits bigint := 0; i integer; n text; k integer;\n"
"  changed boolean := false;\n"
"BEGIN\n"
"  IF p_names IS NULL OR cardinality(p_names) = 0 THEN RETURN 0; END IF;\n"
"  SELECT keywords INTO kws FROM mailboxes WHERE id = p_mailbox;\n"
"  FOREACH n IN ARRAY p_names LOOP\n"
"    i := NULL;\n"
"    FOR k IN 1 .. coalesce(cardinality(kws), 0) LOOP\n"
"      IF lower(kws[k]) = lower(n) THEN i := k; EXIT; END IF;\n"
"    END LOOP;\n"
"    IF i IS NULL THEN\n"
"      IF NOT p_create THEN CONTINUE; END IF;\n"
"      IF cardinality(kws) >= 64 THEN\n"
"        RAISE EXCEPTION 'a mailbox holds at most 64 keywords'\n"
"          USING ERRCODE = 'FCLIM';\n"
"      END IF;\n"
"      kws := kws || n;\n"
"      i := cardinality(kws);\n"
"      changed := true;\n"
"    END IF;\n"
"    bits := bits | (1::bigint << (i - 1));\n"
"  END LOOP;\n"
"  IF changed THEN\n"
"    UPDATE mailboxes SET keywords = kws WHERE id = p_mailbox;\n"
"  END IF;\n"
"  RETURN bits;\n"
"END $$;\n"

/* a mailbox row, locked, or FCNOT */
"CREATE FUNCTION facteur_lock(p_store bigint, p_name text)\n"
"  RETURNS mailboxes\n"
"LANGUAGE plpgsql AS $$\n"
"DECLARE mb mailboxes;\n"
"BEGIN\n"
"  SELECT * INTO mb FROM mailboxes WHERE store_id = p_store\n"
"    AND name = p_name FOR UPDATE;\n"
"  IF NOT FOUND THEN\n"
"    RAISE EXCEPTION 'no mailbox %', p_name USING ERRCODE = 'FCNOT';\n"
"  END IF;\n"
"  RETURN mb;\n"
"END $$;\n"

"CREATE FUNCTION facteur_quota_check(p_store bigint, p_bytes bigint,\n"
"    p_count bigint, p_qbytes bigint, p_qcount bigint) RETURNS void\n"
"LANGUAGE plpgsql AS $$\n"
"DECLARE s stores;\n"
"BEGIN\n"
"  IF p_qbytes <= 0 AND p_qcount <= 0 THEN RETURN; END IF;\n"
"  SELECT * INTO s FROM stores WHERE id = p_store;\n"
"  IF (p_qbytes > 0 AND s.bytes + p_bytes > p_qbytes)\n"
"      OR (p_qcount > 0 AND s.messages + p_count > p_qcount) THEN\n"
"    RAISE EXCEPTION 'over quota' USING ERRCODE = 'FCQUO';\n"
"  END IF;\n"
"END $$;\n"

"CREATE FUNCTION facteur_append(p_store bigint, p_name text,\n"
"    p_flags integer, p_keywords text[], p_date bigint, p_size bigint,\n"
"    p_size_crlf bigint, p_data bytea, p_qbytes bigint, p_qcount bigint,\n"
"    OUT uidvalidity bigint, OUT uid bigint)\n"
"LANGUAGE plpgsql AS $$\n"
"DECLARE mb mailboxes; h bytea := sha256(p_data); kw bigint;\n"
"BEGIN\n"
"  mb := facteur_lock(p_store, p_name);\n"
"  PERFORM facteur_quota_check(p_store, p_size, 1, p_qbytes, p_qcount);\n"
"  kw := facteur_keyword_bits(mb.id, p_keywords, true);\n"
"  /* a row lock on a shared body: a concurrent clean-up waits */\n"
"  INSERT INTO bodies VALUES (h, p_data)\n"
"    ON CONFLICT (hash) DO UPDATE SET hash = EXCLUDED.hash;\n"
"  UPDATE mailboxes SET uidnext = mb.uidnext + 1,\n"
"    highestmodseq = mb.highestmodseq + 1 WHERE id = mb.id;\n"
"  INSERT INTO messages VALUES (mb.id, mb.uidnext, mb.highestmodseq + 1,\n"
"    p_flags, kw, p_date, p_size, p_size_crlf,\n"
"    replace(gen_random_uuid()::text, '-', ''), h);\n"
"  UPDATE stores SET bytes = bytes + p_size, messages = messages + 1\n"
"    WHERE id = p_store;\n"
"  PERFORM pg_notify('facteur', mb.id::text);\n"
"  uidvalidity := mb.uidvalidity;\n"
"  uid := mb.uidnext;\n"
"END $$;\n"

/* flag changes; returns the UIDs UNCHANGEDSINCE kept back */
"CREATE FUNCTION facteur_store(p_mailbox bigint, p_uids bigint[],\n"
"    p_op integer, p_flags integer, p_keywords text[],\n"
"    p_unchangedsince bigint) RETURNS bigint[]\n"
"LANGUAGE plpgsql AS $$\n"
"DECLARE mb mailboxes; kw bigint; r record; nf integer; nk bigint;\n"
"  ms bigint; kept bigint[] := '{}';\n"
"BEGIN\n"
"  SELECT * INTO mb FROM mailboxes WHERE id = p_mailbox FOR UPDATE;\n"
"  IF NOT FOUND THEN\n"
"    RAISE EXCEPTION 'the mailbox is gone' USING ERRCODE = 'FCNOT';\n"
"  END IF;\n"
"  kw := facteur_keyword_bits(p_mailbox, p_keywords, p_op <> 1);\n"
"  ms := mb.highestmodseq;\n"
"  FOR r IN SELECT m.uid, m.flags, m.keywords, m.modseq FROM messages m\n"
"      WHERE m.mailbox_id = p_mailbox AND m.uid = ANY (p_uids)\n"
"      ORDER BY m.uid FOR UPDATE LOOP\n"
"    IF p_unchangedsince > 0 AND r.modseq > p_unchangedsince THEN\n"
"      kept := kept || r.uid;\n"
"      CONTINUE;\n"
"    END IF;\n"
"    IF p_op = 0 THEN\n"
"      nf := r.flags | p_flags; nk := r.keywords | kw;\n"
"    ELSIF p_op = 1 THEN\n"
"      nf := r.flags & ~p_flags; nk := r.keywords & ~kw;\n"
"    ELSE\n"
"      nf := p_flags; nk := kw;\n"
"    END IF;\n"
"    IF nf = r.flags AND nk = r.keywords THEN CONTINUE; END IF;\n"
"    ms := ms + 1;\n"
"    UPDATE messages SET flags = nf, keywords = nk, modseq = ms\n"
"      WHERE mailbox_id = p_mailbox AND uid = r.uid;\n"
"  END LOOP;\n"
"  IF ms > mb.highestmodseq THEN\n"
"    UPDATE mailboxes SET highestmodseq = ms WHERE id = p_mailbox;\n"
"    PERFORM pg_notify('facteur', p_mailbox::text);\n"
"  END IF;\n"
"  RETURN kept;\n"
"END $$;\n"

/* removes messages (already locked) and leaves their tombstones;
 * returns the bodies they used, for facteur's clean-up after commit */
"CREATE FUNCTION facteur_remove(p_store bigint, p_mailbox bigint,\n"
"    p_uids bigint[], p_deleted_only boolean) RETURNS bytea[]\n"
"LANGUAGE plpgsql AS $$\n"
"DECLARE r record; ms bigint; n integer := 0; total bigint := 0;\n"
"  hs bytea[] := '{}';\n"
"BEGIN\n"
"  SELECT highestmodseq INTO ms FROM mailboxes WHERE id = p_mailbox;\n"
"  FOR r IN DELETE FROM messages WHERE mailbox_id = p_mailbox\n"
"      AND (p_uids IS NULL OR uid = ANY (p_uids))\n"
"      AND (NOT p_deleted_only OR flags & 8 <> 0)\n"
"      RETURNING uid, size, hash LOOP\n"
"    ms := ms + 1;\n"
"    n := n + 1;\n"
"    total := total + r.size;\n"
"    hs := hs || r.hash;\n"
"    INSERT INTO expunged VALUES (p_mailbox, r.uid, ms)\n"
"      ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = ms;\n"
"  END LOOP;\n"
"  IF n > 0 THEN\n"
"    UPDATE mailboxes SET highestmodseq = ms WHERE id = p_mailbox;\n"
"    UPDATE stores SET bytes = greatest(bytes - total, 0),\n"
"      messages = greatest(messages - n, 0) WHERE id = p_store;\n"
"    PERFORM pg_notify('facteur', p_mailbox::text);\n"
"  END IF;\n"
"  RETURN hs;\n"
"END $$;\n"

"CREATE FUNCTION facteur_expunge(p_store bigint, p_mailbox bigint,\n"
"    p_uids bigint[]) RETURNS bytea[]\n"
"LANGUAGE plpgsql AS $$\n"
"BEGIN\n"
"  PERFORM 1 FROM mailboxes WHERE id = p_mailbox FOR UPDATE;\n"
"  IF NOT FOUND THEN\n"
"    RAISE EXCEPTION 'the mailbox is gone' USING ERRCODE = 'FCNOT';\n"
"  END IF;\n"
"  RETURN facteur_remove(p_store, p_mailbox, p_uids, true);\n"
"END $$;\n"

/* copies (or moves) messages, in the order given; new UIDs in order */
"CREATE FUNCTION facteur_copy(p_store bigint, p_src bigint,\n"
"    p_uids bigint[], p_dest text, p_move boolean, p_qbytes bigint,\n"
"    p_qcount bigint, OUT uidvalidity bigint, OUT uids bigint[])\n"
"LANGUAGE plpgsql AS $$\n"
"DECLARE dst mailboxes; src mailboxes; m messages; u bigint;\n"
"  names text[]; kw bigint; ms bigint; nxt bigint; total bigint;\n"
"  n integer;\n"
"BEGIN\n"
"  SELECT id INTO dst.id FROM mailboxes WHERE store_id = p_store\n"
"    AND name = p_dest;\n"
"  IF NOT FOUND THEN\n"
"    RAISE EXCEPTION 'no mailbox %', p_dest USING ERRCODE = 'FCNOT';\n"
"  END IF;\n"
"  /* both rows, in id order: no deadlock with a copy the other way */\n"
"  PERFORM 1 FROM mailboxes WHERE id IN (p_src, dst.id) ORDER BY id\n"
"    FOR UPDATE;\n"
"  SELECT * INTO src FROM mailboxes WHERE id = p_src;\n"
"  IF NOT FOUND THEN\n"
"    RAISE EXCEPTION 'the mailbox is gone' USING ERRCODE = 'FCNOT';\n"
"  END IF;\n"
"  SELECT * INTO dst FROM mailboxes WHERE id = dst.id;\n"
"  SELECT count(*), coalesce(sum(size), 0) INTO n, total FROM messages\n"
"    WHERE mailbox_id = p_src AND uid = ANY (p_uids);\n"
"  IF n < cardinality(p_uids) THEN\n"
"    RAISE EXCEPTION 'a message was expunged' USING ERRCODE = 'FCEXP';\n"
"  END IF;\n"
"  IF NOT p_move OR p_src = dst.id THEN\n"
"    PERFORM facteur_quota_check(p_store, total, n, p_qbytes, p_qcount);\n"
"  END IF;\n"
"  nxt := dst.uidnext;\n"
"  ms := dst.highestmodseq;\n"
"  uids := '{}';\n"
"  FOREACH u IN ARRAY p_uids LOOP\n"
"    SELECT * INTO m FROM messages WHERE mailbox_id = p_src AND uid = u;\n"
"    kw := 0;\n"
"    IF m.keywords <> 0 THEN\n"
"      SELECT array_agg(k ORDER BY o) INTO names\n"
"        FROM unnest(src.keywords) WITH ORDINALITY AS t (k, o)\n"
"        WHERE m.keywords & (1::bigint << (o::integer - 1)) <> 0;\n"
"      kw := facteur_keyword_bits(dst.id, names, true);\n"
"    END IF;\n"
"    ms := ms + 1;\n"
"    INSERT INTO messages VALUES (dst.id, nxt, ms, m.flags, kw,\n"
"      m.internal_date, m.size, m.size_crlf,\n"
"      replace(gen_random_uuid()::text, '-', ''), m.hash);\n"
"    uids := uids || nxt;\n"
"    nxt := nxt + 1;\n"
"  END LOOP;\n"
"  UPDATE mailboxes SET uidnext = nxt, highestmodseq = ms\n"
"    WHERE id = dst.id;\n"
"  UPDATE stores SET bytes = bytes + total, messages = messages + n\n"
"    WHERE id = p_store;\n"
"  IF p_move THEN\n"
"    PERFORM facteur_remove(p_store, p_src, p_uids, false);\n"
"  END IF;\n"
"  PERFORM pg_notify('facteur', dst.id::text);\n"
"  uidvalidity := dst.uidvalidity;\n"
"END $$;\n"

/* makes the levels above a name that are missing */
"CREATE FUNCTION facteur_parents(p_store bigint, p_name text)\n"
"  RETURNS void\n"
"LANGUAGE plpgsql AS $$\n"
"DECLARE i integer;\n"
"BEGIN\n"
"  FOR i IN 1 .. length(p_name) LOOP\n"
"    IF substr(p_name, i, 1) = '/' THEN\n"
"      INSERT INTO mailboxes (store_id, name, uidvalidity)\n"
"        SELECT p_store, left(p_name, i - 1), facteur_uidvalidity(p_store)\n"
"        WHERE NOT EXISTS (SELECT 1 FROM mailboxes WHERE store_id = p_store\n"
"          AND name = left(p_name, i - 1))\n"
"        ON CONFLICT DO NOTHING;\n"
"    END IF;\n"
"  END LOOP;\n"
"END $$;\n"

"CREATE FUNCTION facteur_create(p_store bigint, p_name text,\n"
"    p_special integer) RETURNS void\n"
"LANGUAGE plpgsql AS $$\n"
"BEGIN\n"
"  PERFORM 1 FROM mailboxes WHERE store_id = p_store AND name = p_name;\n"
"  IF FOUND THEN\n"
"    RAISE EXCEPTION 'mailbox % exists', p_name USING ERRCODE = 'FCEXI';\n"
"  END IF;\n"
"  PERFORM facteur_parents(p_store, p_name);\n"
"  INSERT INTO mailboxes (store_id, name, special_use, uidvalidity)\n"
"    VALUES (p_store, p_name, p_special, facteur_uidvalidity(p_store));\n"
"EXCEPTION WHEN unique_violation THEN\n"
"  RAISE EXCEPTION 'mailbox % exists', p_name USING ERRCODE = 'FCEXI';\n"
"END $$;\n"

"CREATE FUNCTION facteur_delete(p_store bigint, p_name text)\n"
"  RETURNS bytea[]\n"
"LANGUAGE plpgsql AS $$\n"
"DECLARE mb mailboxes; n bigint; total bigint; hs bytea[];\n"
"BEGIN\n"
"  mb := facteur_lock(p_store, p_name);\n"
"  SELECT count(*), coalesce(sum(size), 0),\n"
"      coalesce(array_agg(DISTINCT hash), '{}') INTO n, total, hs\n"
"    FROM messages WHERE mailbox_id = mb.id;\n"
"  DELETE FROM mailboxes WHERE id = mb.id;\n"
"  UPDATE stores SET bytes = greatest(bytes - total, 0),\n"
"    messages = greatest(messages - n, 0) WHERE id = p_store;\n"
"  PERFORM pg_notify('facteur', mb.id::text);\n"
"  RETURN hs;\n"
"END $$;\n"

/* renames a mailbox and its children; INBOX's messages go to a new
 * mailbox and INBOX stays, empty (its UIDs go on from where they were) */
"CREATE FUNCTION facteur_rename(p_store bigint, p_from text, p_to text)\n"
"  RETURNS void\n"
"LANGUAGE plpgsql AS $$\n"
"DECLARE mb mailboxes; nid bigint; r record; ms bigint;\n"
"BEGIN\n"
"  mb := facteur_lock(p_store, p_from);\n"
"  PERFORM 1 FROM mailboxes WHERE store_id = p_store AND (name = p_to\n"
"    OR (p_from <> 'INBOX' AND left(name, length(p_to) + 1) = p_to || '/'));\n"
"  IF FOUND THEN\n"
"    RAISE EXCEPTION 'mailbox % exists', p_to USING ERRCODE = 'FCEXI';\n"
"  END IF;\n"
"  PERFORM facteur_parents(p_store, p_to);\n"
"  BEGIN\n"
"    IF p_from = 'INBOX' THEN\n"
"      INSERT INTO mailboxes (store_id, name, uidvalidity, uidnext,\n"
"          highestmodseq, keywords)\n"
"        VALUES (p_store, p_to, facteur_uidvalidity(p_store), mb.uidnext,\n"
"          mb.highestmodseq, mb.keywords) RETURNING id INTO nid;\n"
"      ms := mb.highestmodseq;\n"
"      FOR r IN UPDATE messages SET mailbox_id = nid\n"
"          WHERE mailbox_id = mb.id RETURNING uid LOOP\n"
"        ms := ms + 1;\n"
"        INSERT INTO expunged VALUES (mb.id, r.uid, ms)\n"
"          ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = ms;\n"
"      END LOOP;\n"
"      UPDATE mailboxes SET highestmodseq = ms WHERE id = mb.id;\n"
"    ELSE\n"
"      UPDATE mailboxes SET name = p_to || substr(name,\n"
"        length(p_from) + 1) WHERE store_id = p_store\n"
"        AND (name = p_from OR left(name, length(p_from) + 1)\n"
"          = p_from || '/');\n"
"    END IF;\n"
"  EXCEPTION WHEN unique_violation THEN\n"
"    RAISE EXCEPTION 'mailbox % exists', p_to USING ERRCODE = 'FCEXI';\n"
"  END;\n"
"  PERFORM pg_notify('facteur', mb.id::text);\n"
"END $$;\n"

"UPDATE facteur_schema SET version = 1;\n";

/*
 * Step 2: the key/value store the Lua filter's facteur.kv shares
 * between workers and nodes (pgsql_kv.c). A row whose expires has
 * passed is as good as absent: reads skip it, writes replace it, and a
 * sweep deletes such rows now and then.
 */
static const char schema_v2[] =
"CREATE TABLE kv (\n"
"  key text PRIMARY KEY,\n"
"  value text NOT NULL,\n"
"  expires timestamptz\n"
");\n"
"CREATE INDEX kv_expires ON kv (expires) WHERE expires IS NOT NULL;\n"
"UPDATE facteur_schema SET version = 2;\n";

/*
 * Step 3: what IMAP needs of a message without reading its body.
 * header_len is the length of the header with the empty line that ends
 * it (SEARCH and SORT on header fields read just that); appends fill it,
 * and for bodies stored before this step it is computed when first
 * asked for. cache holds bytes a protocol module derived from the body
 * (fc_msg_cache_get/put: IMAP's ENVELOPE and BODYSTRUCTURE), filled on
 * the first FETCH that needs them; copies share it with the body.
 */
static const char schema_v3[] =
"ALTER TABLE bodies ADD COLUMN header_len integer,\n"
"  ADD COLUMN cache bytea;\n"
"CREATE FUNCTION facteur_header_len(d bytea) RETURNS integer\n"
"LANGUAGE sql IMMUTABLE STRICT AS $$\n"
"  SELECT CASE WHEN substring(d FROM 1 FOR 1) = '\\x0a'::bytea THEN 1\n"
"    WHEN position('\\x0a0a'::bytea IN d) > 0\n"
"      THEN position('\\x0a0a'::bytea IN d) + 1\n"
"    ELSE length(d) END $$;\n"
"CREATE OR REPLACE FUNCTION facteur_append(p_store bigint, p_name text,\n"
"    p_flags integer, p_keywords text[], p_date bigint, p_size bigint,\n"
"    p_size_crlf bigint, p_data bytea, p_qbytes bigint, p_qcount bigint,\n"
"    OUT uidvalidity bigint, OUT uid bigint)\n"
"LANGUAGE plpgsql AS $$\n"
"DECLARE mb mailboxes; h bytea := sha256(p_data); kw bigint;\n"
"BEGIN\n"
"  mb := facteur_lock(p_store, p_name);\n"
"  PERFORM facteur_quota_check(p_store, p_size, 1, p_qbytes, p_qcount);\n"
"  kw := facteur_keyword_bits(mb.id, p_keywords, true);\n"
"  /* a row lock on a shared body: a concurrent clean-up waits */\n"
"  INSERT INTO bodies (hash, data, header_len)\n"
"    VALUES (h, p_data, facteur_header_len(p_data))\n"
"    ON CONFLICT (hash) DO UPDATE SET hash = EXCLUDED.hash;\n"
"  UPDATE mailboxes SET uidnext = mb.uidnext + 1,\n"
"    highestmodseq = mb.highestmodseq + 1 WHERE id = mb.id;\n"
"  INSERT INTO messages VALUES (mb.id, mb.uidnext, mb.highestmodseq + 1,\n"
"    p_flags, kw, p_date, p_size, p_size_crlf,\n"
"    replace(gen_random_uuid()::text, '-', ''), h);\n"
"  UPDATE stores SET bytes = bytes + p_size, messages = messages + 1\n"
"    WHERE id = p_store;\n"
"  PERFORM pg_notify('facteur', mb.id::text);\n"
"  uidvalidity := mb.uidvalidity;\n"
"  uid := mb.uidnext;\n"
"END $$;\n"
"UPDATE facteur_schema SET version = 3;\n";

static const char *const schema_steps[PGSQL_SCHEMA_VERSION] = {
	schema_v1,
	schema_v2,
	schema_v3,
};

static int
schema_result(PGresult *r, const char **error_r)
{
	static char msg[512];
	ExecStatusType s = PQresultStatus(r);

	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
		PQclear(r);
		return 0;
	}
	snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
	msg[strcspn(msg, "\n")] = '\0';
	PQclear(r);
	*error_r = msg;
	return -1;
}

int
pgsql_schema_version(PGconn *c, const char **error_r)
{
	static char msg[512];
	PGresult *r;
	int v;

	r = PQexec(c, "SELECT to_regclass('facteur_schema') IS NOT NULL");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
		msg[strcspn(msg, "\n")] = '\0';
		*error_r = msg;
		PQclear(r);
		return -1;
	}
	v = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!v)
		return 0;
	r = PQexec(c, "SELECT max(version) FROM facteur_schema");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		snprintf(msg, sizeof(msg), "reading the schema version: %s",
		    PQresultErrorMessage(r));
		msg[strcspn(msg, "\n")] = '\0';
		*error_r = msg;
		PQclear(r);
		return -1;
	}
	v = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

int
pgsql_schema_migrate(PGconn *c, int *from_r, const char **error_r)
{
	int v, i;

	if (schema_result(PQexec(c, "SELECT pg_advisory_lock(" SCHEMA_LOCK
	    ")"), error_r) < 0)
		return -1;
	v = pgsql_schema_version(c, error_r);
	*from_r = v;
	if (v > PGSQL_SCHEMA_VERSION) {
		static char msg[160];

		snprintf(msg, sizeof(msg), "the database's schema (version "
		    "%d) is newer than this facteur knows (%d)", v,
		    PGSQL_SCHEMA_VERSION);
		*error_r = msg;
		v = -1;
	}
	for (i = v; i >= 0 && i < PGSQL_SCHEMA_VERSION; i++) {
		PGresult *r;

		if (schema_result(PQexec(c, "BEGIN"), error_r) < 0) {
			v = -1;
			break;
		}
		r = PQexec(c, schema_steps[i]);
		if (schema_result(r, error_r) < 0) {
			PQclear(PQexec(c, "ROLLBACK"));
			v = -1;
			break;
		}
		if (schema_result(PQexec(c, "COMMIT"), error_r) < 0) {
			v = -1;
			break;
		}
	}
	PQclear(PQexec(c, "SELECT pg_advisory_unlock(" SCHEMA_LOCK ")"));
	return v < 0 ? -1 : 0;
}

int
pgsql_schema_check(const struct pgsql_conf *conf, bool for_ctl,
    const char **error_r)
{
	static char msg[640];
	const char *err;
	PGconn *c;
	int v, from;

	c = pgsql_connect(&err);
	if (c == NULL) {
		snprintf(msg, sizeof(msg), "cannot reach the database: %s",
		    err);
		*error_r = msg;
		return -1;
	}
	v = pgsql_schema_version(c, &err);
	if (v >= 0 && v < PGSQL_SCHEMA_VERSION && conf->schema_mode == 1) {
		if (pgsql_schema_migrate(c, &from, &err) < 0)
			v = -1;
		else {
			if (from != PGSQL_SCHEMA_VERSION)
				fc_log(FC_LOG_NOTICE, "pgsql: schema migrated from "
				    "version %d to %d", from,
				    PGSQL_SCHEMA_VERSION);
			v = PGSQL_SCHEMA_VERSION;
		}
	}
	PQfinish(c);
	if (v < 0) {
		snprintf(msg, sizeof(msg), "the database's schema: %s", err);
		*error_r = msg;
		return -1;
	}
	if (v > PGSQL_SCHEMA_VERSION) {
		snprintf(msg, sizeof(msg), "the database's schema is version "
		    "%d, newer than this facteur knows (%d): upgrade facteur "
		    "on this node first", v, PGSQL_SCHEMA_VERSION);
		*error_r = msg;
		return -1;
	}
	if (v < PGSQL_SCHEMA_VERSION && !for_ctl) {
		if (v == 0)
			snprintf(msg, sizeof(msg), "the database has no "
			    "facteur schema: run facteurctl db migrate");
		else
			snprintf(msg, sizeof(msg), "the database's schema is "
			    "version %d, this facteur needs %d: run "
			    "facteurctl db migrate", v, PGSQL_SCHEMA_VERSION);
		*error_r = msg;
		return -1;
	}
	return 0;
}
