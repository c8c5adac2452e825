// Package importer loads order history from CSV exports into a store: the UCI
// "Online Retail" files and a documented generic CSV. It streams every file
// through one COPY into a temporary staging table and then merges the staged
// rows into customers, products, orders, order_lines and refund_lines with a
// few set-based statements, all in one transaction. Importing the same files
// again changes nothing. See docs/import.md.
package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/remarket/remarket/internal/progress"
	"github.com/remarket/remarket/internal/store"
)

// Formats Run understands.
const (
	FormatOnlineRetail = "online-retail"
	FormatGenericCSV   = "generic-csv"
)

// maxRejected caps Summary.Rejected so that a file of garbage cannot fill
// memory; RowsRejected still counts every rejected row.
const maxRejected = 1000

// Params says what to import into which store.
type Params struct {
	StoreID int64
	Format  string   // FormatOnlineRetail or FormatGenericCSV
	Paths   []string // files or folders (folders: all *.csv inside, sorted by name)
	// Location is the store's timezone, for timestamps without an offset;
	// nil means the timezone saved on the store.
	Location *time.Location
	// Currency is the default for rows without one; "" means the store's
	// currency. The online-retail format is always GBP.
	Currency string
	// Progress receives a progress bar over the bytes of all input files;
	// nil means none.
	Progress io.Writer
}

// Rejected is a row that could not be read, with where it is and why.
type Rejected struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// Summary reports what an import did. Orders, Customers, Products, Lines and
// Refunds count rows newly created by this import; the *Updated fields count
// existing rows it changed. A second import of the same files reports zero in
// all of them.
type Summary struct {
	// RowsRead = RowsImported + RowsSkipped + RowsRejected.
	RowsRead     int64 `json:"rows_read"`     // data rows in the files, headers excluded
	RowsImported int64 `json:"rows_imported"` // rows staged as order lines or cancellations
	RowsSkipped  int64 `json:"rows_skipped"`  // valid rows deliberately not imported
	RowsRejected int64 `json:"rows_rejected"` // malformed rows
	// SkippedByReason splits RowsSkipped, e.g. "no_customer", "not_merchandise".
	SkippedByReason map[string]int64 `json:"skipped_by_reason"`
	// Rejected lists the first 1000 rejected rows.
	Rejected []Rejected `json:"rejected"`

	Orders    int64 `json:"orders_created"`
	Customers int64 `json:"customers_created"`
	Products  int64 `json:"products_created"`
	Lines     int64 `json:"order_lines_created"`
	Refunds   int64 `json:"refund_lines_created"` // cancellations applied to earlier lines

	OrdersUpdated    int64 `json:"orders_updated"`
	CustomersUpdated int64 `json:"customers_updated"`
	ProductsUpdated  int64 `json:"products_updated"`
	LinesUpdated     int64 `json:"order_lines_updated"`
	// OrdersRefunded counts orders this import marked partially_refunded or
	// refunded because of cancellations.
	OrdersRefunded int64 `json:"orders_marked_refunded"`

	// CancellationsUnmatched counts cancellation rows that found no earlier
	// purchase of the same product by the same customer to refund.
	CancellationsUnmatched int64 `json:"cancellations_unmatched"`

	Duration time.Duration `json:"duration_ns"`
}

// Run imports p.Paths into store p.StoreID in one transaction and reports
// what it did. Malformed rows are listed in Summary.Rejected and do not stop
// the import. An error (unreadable file, wrong header, unknown store, database
// failure) rolls everything back; the Summary then only tells how far
// reading got, with every created and updated count zero.
func Run(ctx context.Context, pool *pgxpool.Pool, p Params) (Summary, error) {
	start := time.Now()
	sum := Summary{SkippedByReason: map[string]int64{}}
	if err := p.validate(); err != nil {
		return sum, err
	}
	files, err := expandPaths(p.Paths)
	if err != nil {
		return sum, err
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return runTx(ctx, tx, p, files, &sum)
	})
	if err != nil {
		sum.Duration = time.Since(start)
		sum.forgetWrites()
		return sum, fmt.Errorf("import into store %d: %w", p.StoreID, err)
	}
	// The tables may have grown from nothing: fresh statistics keep the
	// planner from scanning them whole for every webhook that follows.
	if err := store.AnalyzeTables(ctx, pool); err != nil {
		return sum, err
	}
	sum.Duration = time.Since(start)
	return sum, nil
}

// forgetWrites zeroes the counts of created and updated rows, which a
// rollback has undone, and keeps what reading found.
func (s *Summary) forgetWrites() {
	*s = Summary{RowsRead: s.RowsRead, RowsImported: s.RowsImported, RowsSkipped: s.RowsSkipped,
		RowsRejected: s.RowsRejected, SkippedByReason: s.SkippedByReason, Rejected: s.Rejected}
}

func (p Params) validate() error {
	if p.Format != FormatOnlineRetail && p.Format != FormatGenericCSV {
		return fmt.Errorf("import: unknown format %q (want %q or %q)", p.Format, FormatOnlineRetail, FormatGenericCSV)
	}
	if len(p.Paths) == 0 {
		return errors.New("import: no files given")
	}
	return nil
}

// runTx does the whole import inside tx: stage every row with COPY, then merge.
func runTx(ctx context.Context, tx pgx.Tx, p Params, files []inputFile, sum *Summary) error {
	if err := lockStore(ctx, tx, p.StoreID); err != nil {
		return err
	}
	if err := p.fillStoreDefaults(ctx, tx); err != nil {
		return err
	}
	if err := createStaging(ctx, tx); err != nil {
		return err
	}
	bar := progress.New(p.Progress, "import", totalSize(files), progress.WithUnit("bytes"))
	agg := newAggregates()
	src := newSource(files, newParser(p), agg, sum, bar)
	defer src.close()
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{stagingTable}, stagingColumns, src); err != nil {
		return fmt.Errorf("stage rows: %w", err)
	}
	bar.Done()
	save := step{"stage orders, products and customers", func(ctx context.Context, tx pgx.Tx, _ int64, _ *Summary) error {
		return agg.save(ctx, tx)
	}}
	return runSteps(ctx, tx, append([]step{save}, mergeSteps...), p.StoreID, sum, p.Progress)
}

// fillStoreDefaults takes the timezone and currency saved on the store for
// whatever the caller left unset, and fails if the store does not exist.
func (p *Params) fillStoreDefaults(ctx context.Context, tx pgx.Tx) error {
	var tz, currency string
	err := tx.QueryRow(ctx, `SELECT timezone, currency FROM stores WHERE id = $1`, p.StoreID).Scan(&tz, &currency)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("load store %d: not found", p.StoreID)
	}
	if err != nil {
		return fmt.Errorf("load store %d: %w", p.StoreID, err)
	}
	if p.Location == nil {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return fmt.Errorf("load timezone of store %d: %w", p.StoreID, err)
		}
		p.Location = loc
	}
	if p.Currency == "" {
		p.Currency = currency
	}
	p.Currency = strings.ToUpper(strings.TrimSpace(p.Currency))
	return nil
}

// inputFile is one CSV file to read, with its size for the progress bar.
type inputFile struct {
	path string
	size int64
}

// expandPaths turns files and folders into the list of files to read: a
// folder contributes its *.csv files (not recursively), sorted by name so
// that line ordinals, and therefore line ids, are the same on every import.
func expandPaths(paths []string) ([]inputFile, error) {
	var files []inputFile
	for _, path := range paths {
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		if !st.IsDir() {
			files = append(files, inputFile{path: path, size: st.Size()})
			continue
		}
		found, err := csvFilesIn(path)
		if err != nil {
			return nil, err
		}
		files = append(files, found...)
	}
	return files, nil
}

func csvFilesIn(dir string) ([]inputFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list folder %s: %w", dir, err)
	}
	var files []inputFile
	for _, e := range entries { // ReadDir sorts by name
		if e.IsDir() || !strings.EqualFold(filepath.Ext(e.Name()), ".csv") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", e.Name(), err)
		}
		files = append(files, inputFile{path: filepath.Join(dir, e.Name()), size: info.Size()})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("import: no .csv files in folder %s", dir)
	}
	slices.SortFunc(files, func(a, b inputFile) int { return strings.Compare(a.path, b.path) })
	return files, nil
}

func totalSize(files []inputFile) int64 {
	var n int64
	for _, f := range files {
		n += f.size
	}
	return n
}

// reject records a malformed row; only the first maxRejected are listed.
func (s *Summary) reject(file string, line int, reason string) {
	s.RowsRejected++
	if len(s.Rejected) < maxRejected {
		s.Rejected = append(s.Rejected, Rejected{File: file, Line: line, Reason: reason})
	}
}

// skip records a valid row that is deliberately not imported.
func (s *Summary) skip(reason string) {
	s.RowsSkipped++
	s.SkippedByReason[reason]++
}
