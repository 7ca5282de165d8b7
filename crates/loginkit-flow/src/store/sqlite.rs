//! SQLite: one writer thread that owns its connection, readers on a pool of their own.
//!
//! Every write is a job for the writer thread, which runs it right there, statement after
//! statement, with no hand-off between them: a whole login is one job. The writer takes every job
//! that is waiting, runs them in one transaction (each in a savepoint, so a job that fails or
//! conflicts undoes only itself), commits once and answers them all: concurrent logins share one
//! commit (group commit). An answer is sent only after the commit. Durability is WAL with
//! `synchronous=NORMAL`, as before: a committed login survives a crash of the process; the
//! last commits before a power loss may be rolled back.
//!
//! Reads run on a pool of other connections (WAL lets them read while the writer writes): one
//! statement is one hand-off to a reader.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::mpsc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::types::{Null, ToSqlOutput};
use sqlx::Row;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::LoginPlan;
use super::UserTable;
use super::sql::{Backend, Dialect, Expect, MakeSteps, Sql, SqlStore, Step, TripCounter, Value, sqlx_query};
use crate::error::{FlowError, StoreError};

/// The store on SQLite.
pub type SqliteStore = SqlStore<SqliteBackend>;

/// How many waiting jobs one transaction of the writer takes at most.
const MAX_BATCH: usize = 128;

/// Readers in the pool.
const READERS: u32 = 8;

/// The SQLite side of [`SqlStore`]: the writer thread and the readers' pool.
pub struct SqliteBackend {
    readers: SqlitePool,
    writer: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    trips: TripCounter,
    /// The file behind a `sqlite::memory:` store, removed with it.
    scratch: Option<PathBuf>,
}

/// What a job computed, before its answer is known to stand (the batch's commit).
type Outcome = Result<Box<dyn std::any::Any + Send>, StoreError>;

/// A job of the writer: its work, run on the writer's connection inside the batch's transaction,
/// and how to answer once that transaction has ended (or without running, when it could not
/// start).
struct Job {
    work: Box<dyn FnOnce(&rusqlite::Connection) -> Outcome + Send>,
    answer: Box<dyn FnOnce(Outcome) + Send>,
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Text(Some(text)) => ToSqlOutput::from(text.as_str()),
            Value::Int(Some(int)) => ToSqlOutput::from(*int),
            Value::Bool(flag) => ToSqlOutput::from(*flag),
            Value::Text(None) | Value::Int(None) => ToSqlOutput::from(Null),
        })
    }
}

fn writer_error(error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict("unique constraint"),
        _ => StoreError::database(error),
    }
}

fn reader_error(error: sqlx::Error) -> StoreError {
    StoreError::database(error)
}

/// Runs one statement without parameters, prepared once per connection (the writer's
/// transaction and savepoint statements, which `execute_batch` would parse every time).
fn control(conn: &rusqlite::Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// The writer thread: batches of jobs, one transaction each.
fn write_loop(conn: rusqlite::Connection, jobs: mpsc::Receiver<Job>) {
    let failed = |message: &str| -> Outcome { Err(StoreError::Database(message.to_owned().into())) };
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(error) = control(&conn, "BEGIN IMMEDIATE") {
            let message = error.to_string();
            for job in batch {
                (job.answer)(failed(&message));
            }
            continue;
        }
        let mut done = Vec::with_capacity(batch.len());
        for job in batch {
            if let Err(error) = control(&conn, "SAVEPOINT job") {
                (job.answer)(failed(&error.to_string()));
                continue;
            }
            let outcome = (job.work)(&conn);
            let ended = match outcome {
                Ok(_) => control(&conn, "RELEASE job"),
                Err(_) => control(&conn, "ROLLBACK TO job").and_then(|()| control(&conn, "RELEASE job")),
            };
            if let Err(error) = ended {
                tracing::error!(%error, "the SQLite writer could not end a savepoint");
            }
            done.push((job.answer, outcome));
        }
        let committed = control(&conn, "COMMIT").map_err(|e| e.to_string());
        if committed.is_err() {
            let _ = control(&conn, "ROLLBACK");
        }
        for (answer, outcome) in done {
            answer(match &committed {
                Ok(()) => outcome,
                Err(message) => failed(message),
            });
        }
    }
}

impl SqliteBackend {
    async fn on_writer<T: Send + 'static>(
        &self,
        work: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (sender, receiver) = tokio::sync::oneshot::channel::<Result<T, StoreError>>();
        let job = Job {
            work: Box::new(move |conn| {
                work(conn).map(|value| Box::new(value) as Box<dyn std::any::Any + Send>)
            }),
            answer: Box::new(move |outcome| {
                // The work above made a `T`: the downcast cannot fail.
                let _ = sender.send(outcome.map(|value| *value.downcast::<T>().expect("the job's own type")));
            }),
        };
        self.trips.count();
        let gone = || StoreError::Database("the SQLite writer has stopped".into());
        self.writer.as_ref().ok_or_else(gone)?.send(job).map_err(|_| gone())?;
        receiver.await.map_err(|_| gone())?
    }

    /// The readers' pool (also what migrations run on).
    pub fn pool(&self) -> &SqlitePool {
        &self.readers
    }
}

impl Drop for SqliteBackend {
    fn drop(&mut self) {
        // Closing the queue ends the writer after its last batch.
        drop(self.writer.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some(path) = self.scratch.take() {
            for suffix in ["", "-wal", "-shm"] {
                let mut name = path.as_os_str().to_owned();
                name.push(suffix);
                let _ = std::fs::remove_file(name);
            }
        }
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn rows(&self, sql: &Sql, values: Vec<Value>) -> Result<Vec<String>, StoreError> {
        self.trips.count();
        let query = sqlx_query::<sqlx::Sqlite>(sql.to_string(), values);
        let rows = query.fetch_all(&self.readers).await.map_err(reader_error)?;
        rows.iter().map(|row| row.try_get::<String, _>(0)).collect::<Result<_, _>>().map_err(reader_error)
    }

    async fn execute(&self, sql: &Sql, values: Vec<Value>) -> Result<u64, StoreError> {
        let sql = sql.clone();
        self.on_writer(move |conn| {
            let mut statement = conn.prepare_cached(&sql).map_err(writer_error)?;
            let changed =
                statement.execute(rusqlite::params_from_iter(values.iter())).map_err(writer_error)?;
            Ok(changed as u64)
        })
        .await
    }

    async fn returning(&self, sql: &Sql, values: Vec<Value>) -> Result<Vec<String>, StoreError> {
        let sql = sql.clone();
        self.on_writer(move |conn| {
            let mut statement = conn.prepare_cached(&sql).map_err(writer_error)?;
            let rows = statement
                .query_map(rusqlite::params_from_iter(values.iter()), |row| row.get::<_, String>(0))
                .map_err(writer_error)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(writer_error)
        })
        .await
    }

    async fn unit(&self, steps: Vec<Step>) -> Result<(), StoreError> {
        self.on_writer(move |conn| run_steps(conn, &steps)).await
    }

    /// The whole login in one job of the writer: the lookup reads what the writes will change,
    /// in the same transaction, so no concurrent login of this process can come between them.
    async fn login(
        &self,
        lookup: &Sql,
        values: Vec<Value>,
        mut make: MakeSteps,
    ) -> Result<Result<LoginPlan, FlowError>, StoreError> {
        let lookup = lookup.clone();
        self.on_writer(move |conn| {
            // Only another process writing the file (or an application table's own unique rule)
            // can make a step miss here: a few more tries, each undone on its own.
            let mut attempts = 0;
            loop {
                attempts += 1;
                let json: String = conn
                    .prepare_cached(&lookup)
                    .and_then(|mut s| {
                        s.query_row(rusqlite::params_from_iter(values.iter()), |row| row.get(0))
                    })
                    .map_err(writer_error)?;
                let (plan, steps) = match make(&json) {
                    Ok(made) => made,
                    Err(refused) => return Ok(Err(refused)),
                };
                control(conn, "SAVEPOINT attempt").map_err(writer_error)?;
                match run_steps(conn, &steps) {
                    Ok(()) => {
                        control(conn, "RELEASE attempt").map_err(writer_error)?;
                        return Ok(Ok(plan));
                    }
                    Err(StoreError::Conflict(why)) if attempts < 3 => {
                        control(conn, "ROLLBACK TO attempt")
                            .and_then(|()| control(conn, "RELEASE attempt"))
                            .map_err(writer_error)?;
                        tracing::debug!(why, "a login's writes missed; deciding again");
                    }
                    Err(other) => return Err(other),
                }
            }
        })
        .await
    }

    fn round_trips(&self) -> u64 {
        self.trips.get()
    }
}

/// Runs a unit's steps in order, each checked against the rows it had to touch.
fn run_steps(conn: &rusqlite::Connection, steps: &[Step]) -> Result<(), StoreError> {
    for step in steps {
        let mut statement = conn.prepare_cached(&step.sql).map_err(writer_error)?;
        let changed =
            statement.execute(rusqlite::params_from_iter(step.values.iter())).map_err(writer_error)?;
        if step.expect == Expect::One && changed != 1 {
            return Err(StoreError::Conflict("changed since it was read"));
        }
    }
    Ok(())
}

/// loginkit's SQLite migrations.
fn migrator() -> Migrator {
    super::sql::migrator([
        include_str!("../../migrations/sqlite/0001_init.sql"),
        include_str!("../../migrations/sqlite/0002_security.sql"),
        include_str!("../../migrations/sqlite/0003_session_slots.sql"),
        include_str!("../../migrations/sqlite/0004_sessions_by_user.sql"),
        include_str!("../../migrations/sqlite/0005_token_lifecycle.sql"),
        include_str!("../../migrations/sqlite/0006_identity_id_token.sql"),
        include_str!("../../migrations/sqlite/0007_token_redeemer.sql"),
    ])
}

impl SqlStore<SqliteBackend> {
    /// Opens (creating when missing) the database at `url` (`sqlite://path.db`; `sqlite::memory:`
    /// is a temporary file, gone with the store) with users in loginkit's own table, and applies
    /// loginkit's migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, UserTable::builtin()).await
    }

    /// Like [`SqliteStore::open`], with users kept in `users` (which the application created).
    pub async fn open_with(url: &str, users: UserTable) -> Result<Self, StoreError> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let (options, scratch) = if in_memory {
            let path = std::env::temp_dir().join(format!(
                "loginkit-memory-{}-{}.db",
                std::process::id(),
                crate::crypto::new_id()
            ));
            (SqliteConnectOptions::new().filename(&path), Some(path))
        } else {
            (SqliteConnectOptions::from_str(url).map_err(StoreError::database)?, None)
        };
        private_file(options.get_filename()).map_err(StoreError::database)?;
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(READERS)
            // A local file cannot hang up: a ping per checkout would cost a hand-off per read.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(StoreError::database)?;
        Self::with_pool_and(pool, users, scratch).await
    }

    /// A store on the database file of `pool` (which reads use), with users kept in `users`;
    /// applies loginkit's migrations and starts the writer on its own connection to the file.
    pub async fn with_pool(pool: SqlitePool, users: UserTable) -> Result<Self, StoreError> {
        Self::with_pool_and(pool, users, None).await
    }

    async fn with_pool_and(
        pool: SqlitePool,
        users: UserTable,
        scratch: Option<PathBuf>,
    ) -> Result<Self, StoreError> {
        migrator().run(&pool).await.map_err(StoreError::database)?;
        let path = pool.connect_options().get_filename().to_owned();
        let conn = open_writer(&path).map_err(StoreError::database)?;
        let (sender, jobs) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("loginkit-sqlite-writer".into())
            .spawn(move || write_loop(conn, jobs))
            .map_err(StoreError::database)?;
        let backend = SqliteBackend {
            readers: pool,
            writer: Some(sender),
            thread: Some(thread),
            trips: TripCounter::default(),
            scratch,
        };
        SqlStore::new(backend, &users).await
    }

    /// The readers' pool.
    pub fn pool(&self) -> &SqlitePool {
        self.backend.pool()
    }
}

fn open_writer(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Makes the database file (created empty when missing) and its `-wal` and `-shm` companions
/// readable by their owner only (0600): they hold session digests and sealed provider tokens.
/// SQLite gives the companions it creates the database file's mode.
fn private_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let file = Path::new(&name);
            if let Ok(metadata) = std::fs::metadata(file)
                && metadata.permissions().mode() & 0o077 != 0
            {
                std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
