package importer

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/remarket/remarket/internal/progress"
)

// stagingTable holds the purchase lines of one import until they are merged.
// It is a TEMP table dropped at commit: it is private to the transaction, is
// not WAL-logged and has no indexes, so COPY into it costs little more than
// sending the bytes. It has only what the line inserts need; orders,
// products, customers and cancellations go through aggregates.
const stagingTable = "import_rows"

const createStagingSQL = `
CREATE TEMP TABLE import_rows (
    order_ext   text NOT NULL,
    line_ext    text NOT NULL,    -- ordinal of the row within its order
    product_ext text NOT NULL,
    sku         text NOT NULL,
    title       text NOT NULL,
    quantity    int NOT NULL,
    price_minor bigint NOT NULL
) ON COMMIT DROP`

var stagingColumns = []string{"order_ext", "line_ext", "product_ext", "sku", "title", "quantity", "price_minor"}

// Kinds of parsed rows.
const (
	kindLine   = "line"   // a purchase line, staged in import_rows
	kindRefund = "refund" // a cancellation line, kept by aggregates
)

// row is one parsed CSV row: a staged line (see stagingColumns) plus the
// order, customer and product fields that aggregates keeps.
type row struct {
	kind       string
	orderExt   string
	lineExt    string
	placedAt   time.Time
	custExt    string
	email      string
	country    string
	productExt string
	sku        string
	title      string
	category   string
	quantity   int32
	priceMinor int64
	currency   string
	status     string
}

// parser turns CSV records of one format into staged rows. One parser reads
// all files of an import, so that an order split across files keeps counting
// its line ordinals.
type parser interface {
	// readHeader checks a file's header row; an error stops the import.
	readHeader(header []string) error
	// parse returns the row to stage, or a reason to skip (a valid row that
	// is not imported) or to reject (a malformed row).
	parse(rec []string) (r row, skip, reject string)
}

// source is the pgx.CopyFromSource that feeds COPY: it opens the files one
// after another and reads them lazily, so memory stays flat whatever the
// size of the input.
type source struct {
	files  []inputFile
	next   int // index in files of the next file to open
	file   *os.File
	path   string
	csv    *csv.Reader
	parser parser
	agg    *aggregates
	sum    *Summary
	bar    *progress.Bar
	seq    int64 // position of the current row among the imported ones
	cur    row   // the row Values returns
	vals   []any // pointers into cur, in stagingColumns order
	err    error
}

func newSource(files []inputFile, p parser, agg *aggregates, sum *Summary, bar *progress.Bar) *source {
	s := &source{files: files, parser: p, agg: agg, sum: sum, bar: bar}
	// Pointers, set up once: boxing each value into an interface would
	// allocate for every string of every row, a third of the parse time.
	c := &s.cur
	s.vals = []any{&c.orderExt, &c.lineExt, &c.productExt, &c.sku, &c.title, &c.quantity, &c.priceMinor}
	return s
}

// Next advances to the next row worth staging, recording skipped and
// rejected rows on the way.
func (s *source) Next() bool {
	for {
		if s.csv == nil && !s.openNext() {
			return false
		}
		rec, err := s.csv.Read()
		if err == io.EOF {
			s.close()
			continue
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				s.err = fmt.Errorf("read %s: %w", s.path, err)
				return false
			}
			// encoding/csv resumes after the bad record, so the import goes on.
			s.sum.RowsRead++
			s.sum.reject(s.path, pe.StartLine, "malformed CSV: "+pe.Err.Error())
			continue
		}
		s.sum.RowsRead++
		r, skip, reject := s.parser.parse(rec)
		switch {
		case reject != "":
			line, _ := s.csv.FieldPos(0)
			s.sum.reject(s.path, line, reject)
		case skip != "":
			s.sum.skip(skip)
		default:
			s.seq++
			s.sum.RowsImported++
			if r.kind == kindRefund {
				s.agg.addRefund(&r, s.seq)
				continue
			}
			s.agg.add(&r, s.seq)
			s.cur = r
			return true
		}
	}
}

// openNext opens the next file and reads its header. It returns false at the
// end of the input or on error (kept for Err).
func (s *source) openNext() bool {
	if s.next == len(s.files) {
		return false
	}
	s.path = s.files[s.next].path
	s.next++
	f, err := os.Open(s.path)
	if err != nil {
		s.err = fmt.Errorf("open %s: %w", s.path, err)
		return false
	}
	s.file = f
	s.csv = csv.NewReader(bufio.NewReaderSize(countingReader{f, s.bar}, 256<<10))
	s.csv.FieldsPerRecord = -1 // a wrong column count rejects the row, not the file
	s.csv.ReuseRecord = true
	header, err := s.csv.Read()
	if err == io.EOF {
		s.err = fmt.Errorf("read %s: empty file, a header row is required", s.path)
		return false
	}
	if err != nil {
		s.err = fmt.Errorf("read header of %s: %w", s.path, err)
		return false
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\uFEFF") // spreadsheet exports add a BOM
	}
	if err := s.parser.readHeader(header); err != nil {
		s.err = fmt.Errorf("read header of %s: %w", s.path, err)
		return false
	}
	return true
}

// Values returns the current row. pgx encodes it before calling Next again,
// so one slice of pointers serves every row.
func (s *source) Values() ([]any, error) { return s.vals, nil }

// Err reports why reading stopped early, if it did.
func (s *source) Err() error { return s.err }

// close closes the open file, if any. Run defers it for imports that stop
// half-way through a file.
func (s *source) close() {
	if s.file != nil {
		s.file.Close()
	}
	s.file, s.csv = nil, nil
}

// countingReader moves the progress bar as bytes are read.
type countingReader struct {
	r   io.Reader
	bar *progress.Bar
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.bar.Add(int64(n))
	return n, err
}

// ordinals numbers the rows of each order 1, 2, 3… in input order. The
// number is the line's external id, so a re-import of the same files gives
// every line the same id and updates it instead of adding a copy. Rows of an
// order are nearly always contiguous, so the current order's count is kept
// aside and the map is only touched when the order changes.
type ordinals struct {
	done map[string]int32 // counts of orders seen before the current one
	cur  string
	n    int32
}

func newOrdinals() *ordinals { return &ordinals{done: map[string]int32{}} }

func (o *ordinals) next(order string) string {
	if order != o.cur || o.n == 0 {
		if o.n > 0 {
			o.done[o.cur] = o.n
		}
		o.cur = strings.Clone(order) // keep the id, not the whole record it slices
		o.n = o.done[order]
	}
	o.n++
	return strconv.Itoa(int(o.n))
}
