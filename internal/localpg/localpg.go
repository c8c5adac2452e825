// Package localpg finds a PostgreSQL server for the demo: the configured one,
// one on localhost:5432, or a private one it starts from the server binaries
// installed on the machine and stops afterwards.
package localpg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNoServer says that no server was reachable and none could be started.
var ErrNoServer = errors.New("no PostgreSQL server found, and no initdb/pg_ctl to start one: " +
	"install PostgreSQL (e.g. apt install postgresql, brew install postgresql) or set REMARKET_DATABASE_URL")

// Server is a database the caller can use; Stop releases what was started.
type Server struct {
	URL  string
	Note string // what was done, for the operator
	stop func() error
}

// Stop shuts a private server down; for other servers it does nothing.
func (s *Server) Stop() error {
	if s.stop == nil {
		return nil
	}
	return s.stop()
}

// Ensure returns url's database, creating the database on its server when it
// is missing; when the server does not answer and private is true, it starts
// a private server in dir (kept between runs).
func Ensure(ctx context.Context, url, dir string, private bool, log io.Writer) (*Server, error) {
	err := ensureDatabase(ctx, url)
	if err == nil {
		return &Server{URL: url, Note: "using " + redact(url)}, nil
	}
	if !private || !unusable(err) {
		return nil, err
	}
	return startPrivate(ctx, dir, log)
}

// ensureDatabase connects to url and creates its database if it is missing.
func ensureDatabase(ctx context.Context, url string) error {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, url)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return err
	}
	cfg, _ := pgx.ParseConfig(url)
	name := cfg.Database
	cfg.Database = "postgres"
	admin, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(cctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// unusable reports whether the local server cannot serve the demo: it does
// not answer, or it does not let this user in (no role, wrong password).
func unusable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return true
	}
	return pgErr.Code == "28000" || pgErr.Code == "28P01" // invalid_authorization_specification, invalid_password
}

func startPrivate(ctx context.Context, dir string, log io.Writer) (*Server, error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	data, err := filepath.Abs(filepath.Join(dir, "pgdata"))
	if err != nil {
		return nil, err
	}
	runAs, err := serverUser(data)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		fmt.Fprintf(log, "initialising a private PostgreSQL in %s\n", data)
		if err := run(ctx, runAs, filepath.Join(bin, "initdb"), "-D", data, "-U", "remarket", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
			return nil, fmt.Errorf("initdb: %w", err)
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off", port)
	if err := run(ctx, runAs, filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(data, "server.log"), "-o", opts, "-w", "start"); err != nil {
		return nil, fmt.Errorf("start private PostgreSQL (log in %s): %w", filepath.Join(data, "server.log"), err)
	}
	stop := func() error {
		return run(context.Background(), runAs, filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop")
	}
	url := fmt.Sprintf("postgres://remarket@127.0.0.1:%d/remarket?sslmode=disable", port)
	if err := ensureDatabase(ctx, url); err != nil {
		_ = stop()
		return nil, err
	}
	return &Server{URL: url, Note: fmt.Sprintf("started a private PostgreSQL on 127.0.0.1:%d (data in %s)", port, data), stop: stop}, nil
}

// findBinDir looks for initdb and pg_ctl on PATH and in the usual install folders.
func findBinDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	var dirs []string
	for _, pattern := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin",
		"/opt/homebrew/opt/postgresql*/bin", "/usr/local/opt/postgresql*/bin", "/Applications/Postgres.app/Contents/Versions/*/bin"} {
		m, _ := filepath.Glob(pattern)
		dirs = append(dirs, m...)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(dirs))) // newest version first
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", ErrNoServer
}

// serverUser returns the account to run the server as: PostgreSQL refuses
// to run as root, so root hands the data folder to the postgres account.
func serverUser(data string) (string, error) {
	if os.Geteuid() != 0 {
		return "", os.MkdirAll(data, 0o700)
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return "", fmt.Errorf("PostgreSQL will not run as root and there is no postgres account: run the demo as another user or set REMARKET_DATABASE_URL")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// postgres must be able to walk into .remarket to reach its data folder.
	if err := os.MkdirAll(filepath.Dir(data), 0o755); err != nil {
		return "", err
	}
	if err := os.Chmod(filepath.Dir(data), 0o755); err != nil {
		return "", err
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return "", err
	}
	return "postgres", os.Chown(data, uid, gid)
}

func run(ctx context.Context, runAs, name string, args ...string) error {
	if runAs != "" {
		args = append([]string{"-u", runAs, "--", name}, args...)
		name = "runuser"
	}
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func redact(url string) string {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return "the configured database"
	}
	return fmt.Sprintf("PostgreSQL at %s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
}
