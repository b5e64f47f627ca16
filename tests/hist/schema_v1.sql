-- The first schema of chord's history database (PRAGMA user_version = 1),
-- as data/hist_db.c creates it before any migration. The migration test
-- builds a database from this file and lets hist_open() upgrade it.
CREATE TABLE conversations(
  id INTEGER PRIMARY KEY,
  title TEXT,
  model TEXT NOT NULL,
  arch TEXT,
  system_prompt TEXT,
  params_json TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL);
CREATE TABLE messages(
  id INTEGER PRIMARY KEY,
  conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('system','user','assistant')),
  content TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'complete'
    CHECK (status IN ('complete','streaming','interrupted','error')),
  n_prompt INTEGER NOT NULL DEFAULT 0,
  n_gen INTEGER NOT NULL DEFAULT 0,
  prompt_ms REAL NOT NULL DEFAULT 0,
  gen_ms REAL NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  UNIQUE (conversation_id, seq));
CREATE VIRTUAL TABLE messages_fts USING fts5(
  content, content='messages', content_rowid='id');
CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN
  INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
  INSERT INTO messages_fts(messages_fts, rowid, content)
    VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER messages_fts_au AFTER UPDATE OF content ON messages BEGIN
  INSERT INTO messages_fts(messages_fts, rowid, content)
    VALUES ('delete', old.id, old.content);
  INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;
PRAGMA user_version = 1;
