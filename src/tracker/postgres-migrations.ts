/**
 * The PostgreSQL schema, as numbered migrations applied in order at start (under an advisory lock,
 * so replicas starting together apply each once). Never edit a migration that has shipped: add
 * the next one. Records are kept whole as jsonb (the same records the level store keeps, built by
 * store-records.ts); the columns beside them are what queries select and order by.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'registry, channels, rollouts, hosts, reports',
    sql: `
      CREATE TABLE bundles (
        digest text PRIMARY KEY,
        info_hash text NOT NULL UNIQUE,
        record jsonb NOT NULL
      );
      CREATE TABLE versions (
        release text COLLATE "C" NOT NULL,
        version text COLLATE "C" NOT NULL,
        record jsonb NOT NULL,
        PRIMARY KEY (release, version)
      );
      CREATE TABLE channels (
        release text COLLATE "C" NOT NULL,
        channel text COLLATE "C" NOT NULL,
        record jsonb NOT NULL,
        PRIMARY KEY (release, channel)
      );
      CREATE TABLE rollouts (
        release text COLLATE "C" NOT NULL,
        channel text COLLATE "C" NOT NULL,
        seq integer NOT NULL,
        record jsonb NOT NULL,
        PRIMARY KEY (release, channel, seq)
      );
      CREATE TABLE hosts (
        id text COLLATE "C" PRIMARY KEY,
        record jsonb NOT NULL
      );
      CREATE TABLE reports (
        digest text NOT NULL,
        host_id text COLLATE "C" NOT NULL,
        record jsonb NOT NULL,
        PRIMARY KEY (digest, host_id)
      );
    `,
  },
]

/** Key of the session advisory lock held while migrations run (any constant shared by replicas). */
export const MIGRATION_LOCK = 0x5830a1
