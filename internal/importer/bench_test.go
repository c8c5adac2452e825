package importer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/remarket/remarket/internal/dbtest"
)

// The data set's size, from its README: the benchmarks fail if they read
// anything else.
const dataRows = 541_909

// BenchmarkImportOnlineRetail imports the whole data set into a fresh
// database per iteration.
//
//	go test ./internal/importer -run XXX -bench . -benchtime 1x
func BenchmarkImportOnlineRetail(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		pool := dbtest.New(b)
		storeID := newStore(b, pool, "Europe/London", "GBP")
		b.StartTimer()

		var steps bytes.Buffer // progress lines, with the time of each merge step
		sum, err := Run(ctx, pool, Params{StoreID: storeID, Format: FormatOnlineRetail, Paths: []string{dataDir}, Progress: &steps})
		if err != nil {
			b.Fatal(err)
		}
		if sum.RowsRead != dataRows {
			b.Fatalf("read %d rows, want %d", sum.RowsRead, dataRows)
		}
		b.StopTimer()
		b.Logf("%+v\n%s", summaryWithoutRejected(sum), steps.String())
		pool.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(dataRows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

func summaryWithoutRejected(s Summary) Summary {
	s.Rejected = nil
	return s
}

// BenchmarkCopyOnlineRetailRaw is the floor the import is measured against:
// the same files copied as they are into a plain table of text columns,
// with no parsing, no staging and no merge.
//   - server-csv: the file bytes stream to COPY ... (FORMAT csv), so
//     PostgreSQL parses the CSV;
//   - pgx-binary: encoding/csv in Go and pgx CopyFrom, as the import stages.
func BenchmarkCopyOnlineRetailRaw(b *testing.B) {
	files, err := expandPaths([]string{dataDir})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		copy func(context.Context, *pgxpool.Conn, []inputFile) (int64, error)
	}{
		{"server-csv", copyServerCSV},
		{"pgx-binary", copyPgxBinary},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				b.StopTimer()
				pool := dbtest.New(b)
				conn, err := pool.Acquire(ctx)
				if err != nil {
					b.Fatal(err)
				}
				_, err = conn.Exec(ctx, `CREATE TABLE raw_rows (invoice_no text, stock_code text, description text,
					quantity text, invoice_date text, unit_price text, customer_id text, country text)`)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()

				n, err := bc.copy(ctx, conn, files)
				if err != nil {
					b.Fatal(err)
				}
				if n != dataRows {
					b.Fatalf("copied %d rows, want %d", n, dataRows)
				}
				b.StopTimer()
				conn.Release()
				pool.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(dataRows*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func copyServerCSV(ctx context.Context, conn *pgxpool.Conn, files []inputFile) (int64, error) {
	var n int64
	for _, f := range files {
		r, err := os.Open(f.path)
		if err != nil {
			return n, err
		}
		tag, err := conn.Conn().PgConn().CopyFrom(ctx, r, `COPY raw_rows FROM STDIN (FORMAT csv, HEADER true)`)
		r.Close()
		if err != nil {
			return n, err
		}
		n += tag.RowsAffected()
	}
	return n, nil
}

func copyPgxBinary(ctx context.Context, conn *pgxpool.Conn, files []inputFile) (int64, error) {
	src := &rawSource{files: files}
	defer src.close()
	return conn.CopyFrom(ctx, pgx.Identifier{"raw_rows"},
		[]string{"invoice_no", "stock_code", "description", "quantity", "invoice_date", "unit_price", "customer_id", "country"}, src)
}

// rawSource streams every record of files, headers dropped, as strings.
type rawSource struct {
	files []inputFile
	next  int
	file  *os.File
	csv   *csv.Reader
	vals  []any
	err   error
}

func (s *rawSource) Next() bool {
	for {
		if s.csv == nil {
			if s.next == len(s.files) {
				return false
			}
			f, err := os.Open(s.files[s.next].path)
			if err != nil {
				s.err = err
				return false
			}
			s.next++
			s.file, s.csv = f, csv.NewReader(bufio.NewReaderSize(f, 256<<10))
			s.csv.ReuseRecord = true
			if _, err := s.csv.Read(); err != nil { // header
				s.err = err
				return false
			}
		}
		rec, err := s.csv.Read()
		if errors.Is(err, io.EOF) {
			s.close()
			continue
		}
		if err != nil {
			s.err = err
			return false
		}
		s.vals = s.vals[:0]
		for _, f := range rec {
			s.vals = append(s.vals, f)
		}
		return true
	}
}

func (s *rawSource) Values() ([]any, error) { return s.vals, nil }
func (s *rawSource) Err() error             { return s.err }

func (s *rawSource) close() {
	if s.file != nil {
		s.file.Close()
	}
	s.file, s.csv = nil, nil
}

// BenchmarkParseOnlineRetail reads and parses the whole data set without a
// database: the Go side's share of the import.
func BenchmarkParseOnlineRetail(b *testing.B) {
	files, err := expandPaths([]string{dataDir})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		sum := Summary{SkippedByReason: map[string]int64{}}
		src := newSource(files, newOnlineRetail(time.UTC), newAggregates(), &sum, nil)
		for src.Next() {
			if _, err := src.Values(); err != nil {
				b.Fatal(err)
			}
		}
		if src.Err() != nil || sum.RowsRead != dataRows {
			b.Fatalf("read %d rows: %v", sum.RowsRead, src.Err())
		}
	}
	b.ReportMetric(float64(dataRows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
