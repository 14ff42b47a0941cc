// Package backfill copies the history of MySQL tables into IoTDB once,
// resumably: the reading side (planner, keyset reader) and the run engine
// (writer pool, resume state, dirty rows, progress) of cmd/backfill.
//
// # Flow
//
//	Run: load state -> plan new tables (check old plans) -> save
//	     -> N readers over a queue of partitions -> bounded channel of pages
//	     -> M writers: Map, dirty rows, PointWriter.Write, collisions, ack
//	     -> state saved at most once per second, on every finished
//	        partition and at exit.
//
// The engine depends on two small interfaces, RowMapper and PointWriter,
// not on mapping.Mapper and iotdbsink.Sink (see Wiring below).
//
// # Planning
//
// The partition column is partition.column or the first primary key column.
// Integer and DATETIME/TIMESTAMP/DATE columns are split into count ranges of
// equal key span between MIN and MAX (with the table's where filter, which is
// always ANDed in parentheses): the first range is [MIN, b1], the others
// (b, b'], the last ends at MAX. Rows inserted above MAX after planning are
// not backfill's job: cdc (start mode initial, or started before the
// backfill) delivers them. chunk_rows instead of count derives count from the
// estimated row count. Skew: every range whose EXPLAIN estimate (InnoDB index
// dives, no scan) exceeds twice the target rows per range is halved at its
// key midpoint, recursively, up to 8 × count ranges. A nullable partition
// column adds an "IS NULL" partition. Other partition column types give one
// partition.
//
// The plan is stored in the state file and reused by reruns, so ranges do
// not move when the table grows.
//
// # Reading
//
// Tables with a primary key are read with keyset paging over the ordering
// tuple (partition column, then the remaining primary key columns):
//
//	SELECT cols FROM t WHERE <tuple > cursor> AND k <= hi AND (where)
//	ORDER BY tuple LIMIT page_rows
//
// as prepared statements (binary protocol, the same Go types for every
// query). The tuple comparison is expanded because MariaDB does not use an
// index range for row constructors (see keysetAfter). Memory is bounded by
// (queue + readers + writers) pages of page_rows rows whatever the table
// size. A failed page query (killed connection, lost server, lock timeout)
// is retried with backoff from the last key read; a permanent error names
// the table, the partition's range and the key.
//
// Tables without a primary key are read with one streaming query per
// partition (no paging: LIMIT/OFFSET would be quadratic and an unordered
// cursor does not exist), which is said in the plan. The query has no ORDER
// BY: rows come in the server's order (ordering would sort the whole
// partition, and nothing depends on the order without a key to resume
// from). An interrupted or failed
// stream is read again from the partition's start; rows already written are
// written again, which IoTDB absorbs (same device and time overwrite).
//
// # Resume state
//
// The state file (Backfill.State, JSON, versioned, written atomically: temp
// file, fsync, rename, fsync of the directory) holds, per table, the plan and
// per partition a done flag and the last acknowledged key. Pages of one
// partition may be written by different writers in any order; the
// partition's key advances only over the contiguous prefix of acknowledged
// pages, so a rerun never skips a row that was not written. A rerun never
// reads finished partitions and continues the others after their key. A
// changed where/partition setting, another shard, another format version or
// a corrupt file is an error that suggests --restart (Options.Restart),
// never a silent restart. Tables added to the configuration are planned and
// backfilled without disturbing the others.
//
// # Consistency
//
// Partitions are read in separate transactions, so the copy is not one
// snapshot of the table. Rows changed during the backfill may be copied old
// or new; cdc, started before the backfill, brings them to their final value
// (writes are idempotent).
//
// # Shards
//
// With Options.Shard i/n, partition p is read by shard p % n, and each shard
// keeps its own state file (StatePath). Every shard plans on its own, so the
// shards' plans must agree: run them against history that does not change
// in the planned key range (a where filter with an upper time bound makes
// that explicit); rows above MAX are cdc's anyway.
//
// # Dirty rows and collisions
//
// Rows the mapper rejects and points IoTDB rejects (reason iotdb_rejected,
// detail "status <code>: <message>") go to the dirty-rows log of package
// dirty, shared with cdc: one record shape, one policy (skip up to
// dirty_rows.max, or fail at the first). Collisions (two
// rows of a table mapping to one device and time) are counted per table, see
// collisions for the memory bound; a table without a primary key tells its
// rows apart by all their mapped values.
//
// # Wiring
//
// The engine depends on RowMapper and PointWriter only. Package wire passes
// *mapping.Mapper and *iotdbsink.Sink as they are (no adapters), for
// cmd/backfill and for cdc's snapshots alike. The sink retries transient
// failures itself under iotdb.retry, so a write error stops the run (the
// page stays unacknowledged and the next run reads it again); the engine
// retries only its own MySQL reads and planning queries.
//
// # Interrupts
//
// SIGINT/SIGTERM cancel the run's context: readers stop, the writers finish
// the pages already read for at most backfill.shutdown_timeout, the state
// is saved and Run returns ErrInterrupted (cmd/backfill exits 3).
package backfill
