package importer

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/remarket/remarket/internal/dbtest"
)

// dataDir holds the UCI Online Retail files, one per day.
const dataDir = "../../../shared/datasets/online_retail_uci/by-day"

// retailCSV exercises every rule of the online-retail format. The comments
// (not part of the file) give each row's file line and fate.
const retailCSV = `InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom
536365,71053,WHITE METAL LANTERN ,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom
536365,85123a,WHITE HANGING HEART T-LIGHT HOLDER,2,2010-12-01 08:26:00,2.55,17850.0,United Kingdom
536365,POST,POSTAGE,1,2010-12-01 08:26:00,18.0,17850.0,United Kingdom
536366,22633,"HAND WARMER UNION JACK, RED",6,2010-12-01 08:28:00,1.85,13047.0,EIRE
536367,22632,HAND WARMER RED POLKA DOT,6,2010-12-01 08:34:00,1.85,,United Kingdom
536368,22960,JAM MAKING SET WITH JARS,abc,2010-12-01 08:34:00,4.25,13047.0,EIRE
536369,22961,JAM JAR,1,2010-12-01 08:35:00
C536370,71053,WHITE METAL LANTERN,-2,2010-12-01 09:41:00,3.39,17850.0,United Kingdom
C536371,22633,HAND WARMER UNION JACK,-1,2010-12-01 08:20:00,1.85,13047.0,EIRE
536372,21730,GLASS STAR FROSTED T-LIGHT HOLDER,6,2011-07-04 10:00:00,4.25,17850.0,United Kingdom
536372,21730,GLASS STAR FROSTED T-LIGHT HOLDER,0,2011-07-04 10:00:00,4.25,17850.0,United Kingdom
536373,85123A,WHITE HANGING HEART T-LIGHT HOLDER,1,2011-07-05 09:00:00,2.95,17850.0,United Kingdom
C536374,85123A,WHITE HANGING HEART T-LIGHT HOLDER,-8,2011-07-06 09:00:00,2.55,17850.0,United Kingdom
536375,22633,HAND WARMER UNION JACK,1,2011-07-07 09:00:00,-1.00,13047.0,EIRE
536376,22633,HAND WARMER UNION JACK,1,2011-13-45 09:00:00,1.85,13047.0,EIRE
`

// Fates of retailCSV's rows, by file line:
//
//	2, 3, 4  lines 1-3 of 536365; line 4 uses "85123a", the same product as line 2
//	5        POST: skipped, not merchandise
//	6        536366, customer 13047, a quoted comma in the title
//	7        no CustomerID: skipped
//	8        Quantity "abc": rejected
//	9        5 columns: rejected
//	10       C536370 refunds 2 of the 6 lanterns of 536365
//	11       C536371 cancels a hand warmer before it was bought: unmatched
//	12       536372, 10:00 London summer time = 09:00 UTC (536373 likewise)
//	13       quantity 0: skipped
//	14       536373, a later, higher price for 85123A
//	15       C536374 returns 8 hearts: FIFO takes 536365 lines 1 (6) and 3 (2)
//	16       negative price: skipped
//	17       month 13: rejected

func TestOnlineRetail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	storeID := newStore(t, pool, "UTC", "USD")
	path := writeFile(t, "retail.csv", retailCSV)

	sum, err := Run(ctx, pool, Params{StoreID: storeID, Format: FormatOnlineRetail, Paths: []string{path}, Location: london(t)})
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{
		RowsRead: 16, RowsImported: 9, RowsSkipped: 4, RowsRejected: 3,
		SkippedByReason: map[string]int64{
			"not_merchandise": 1, "no_customer": 1, "non_positive_quantity": 1, "negative_price": 1,
		},
		Rejected: []Rejected{
			{File: path, Line: 8, Reason: `Quantity "abc" is not a whole number`},
			{File: path, Line: 9, Reason: "has 5 columns, want 8"},
			{File: path, Line: 17, Reason: `InvoiceDate "2011-13-45 09:00:00" is not YYYY-MM-DD HH:MM:SS`},
		},
		Orders: 4, Customers: 2, Products: 4, Lines: 6, Refunds: 3,
		OrdersRefunded: 1, CancellationsUnmatched: 1,
	}
	sum.Duration = 0
	if !reflect.DeepEqual(sum, want) {
		t.Fatalf("summary\n got %+v\nwant %+v", sum, want)
	}

	// Customers: external id without ".0", no email, ISO country.
	assertRows(t, pool, `SELECT external_id, coalesce(email, 'NULL'), country FROM customers ORDER BY external_id`,
		"13047 NULL IE", "17850 NULL GB")
	// Products: upper-cased stock code, latest positive price in pence, no POST.
	assertRows(t, pool, `SELECT external_id, sku, title, price_minor, currency FROM products ORDER BY external_id`,
		"21730 21730 GLASS STAR FROSTED T-LIGHT HOLDER 425 GBP",
		"22633 22633 HAND WARMER UNION JACK, RED 185 GBP",
		"71053 71053 WHITE METAL LANTERN 339 GBP",
		"85123A 85123A WHITE HANGING HEART T-LIGHT HOLDER 295 GBP")
	// Orders: totals exclude postage; the cancellations made 536365 partially refunded.
	assertRows(t, pool, `SELECT o.external_id, c.external_id, o.status, o.currency, o.total_minor, o.placed_at
		FROM orders o JOIN customers c ON c.id = o.customer_id ORDER BY o.external_id`,
		"536365 17850 partially_refunded GBP 4074 2010-12-01 08:26:00 +0000 UTC",
		"536366 13047 paid GBP 1110 2010-12-01 08:28:00 +0000 UTC",
		"536372 17850 paid GBP 2550 2011-07-04 09:00:00 +0000 UTC",
		"536373 17850 paid GBP 295 2011-07-05 08:00:00 +0000 UTC")
	// Lines: ordinal ids (the skipped POST row keeps its number 4), two
	// lines for one product in one invoice, refunds applied first-in first-out.
	assertRows(t, pool, `SELECT o.external_id, l.external_id, l.sku, l.quantity, l.unit_price_minor, l.refunded_quantity
		FROM order_lines l JOIN orders o ON o.id = l.order_id ORDER BY o.external_id, l.external_id`,
		"536365 1 85123A 6 255 6", "536365 2 71053 6 339 2", "536365 3 85123A 2 255 2",
		"536366 1 22633 6 185 0", "536372 1 21730 6 425 0", "536373 1 85123A 1 295 0")
	assertRows(t, pool, `SELECT r.refund_external_id, o.external_id || ':' || l.external_id, r.quantity
		FROM refund_lines r JOIN order_lines l ON l.id = r.order_line_id JOIN orders o ON o.id = l.order_id
		ORDER BY 1, 2`,
		"C536370:1 536365:2 2", "C536374:1 536365:1 6", "C536374:1 536365:3 2")
}

func TestOnlineRetailTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	storeID := newStore(t, pool, "Europe/London", "GBP")
	p := Params{StoreID: storeID, Format: FormatOnlineRetail, Paths: []string{writeFile(t, "retail.csv", retailCSV)}}

	if _, err := Run(ctx, pool, p); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, pool)
	second, err := Run(ctx, pool, p)
	if err != nil {
		t.Fatal(err)
	}
	changed := []int64{second.Orders, second.Customers, second.Products, second.Lines, second.Refunds,
		second.OrdersUpdated, second.CustomersUpdated, second.ProductsUpdated, second.LinesUpdated, second.OrdersRefunded}
	for _, n := range changed {
		if n != 0 {
			t.Fatalf("second import changed something: %+v", second)
		}
	}
	if second.RowsRead != 16 || second.CancellationsUnmatched != 1 {
		t.Fatalf("second import read differently: %+v", second)
	}
	if after := snapshot(t, pool); !reflect.DeepEqual(before, after) {
		t.Fatalf("rows changed:\nbefore %v\nafter  %v", before, after)
	}
}

// snapshot returns, per table, the row count and every row's xmin: any
// insert, update or delete changes it.
func snapshot(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range []string{"customers", "products", "orders", "order_lines", "refund_lines"} {
		var s string
		err := pool.QueryRow(context.Background(),
			`SELECT count(*) || ' ' || coalesce(string_agg(xmin::text, ',' ORDER BY ctid), '') FROM `+table).Scan(&s)
		if err != nil {
			t.Fatal(err)
		}
		out[table] = s
	}
	return out
}

const genericOrdersCSV = `order_id,placed_at,email,customer_id,sku,title,quantity,unit_price,currency,status,category
1001,2025-03-01T10:00:00+01:00,Ana@Example.com,,SKU-1,Mug,2,12.50,EUR,,kitchen
1001,2025-03-01T10:00:00+01:00,Ana@Example.com,,SKU-2,Plate,1,8,EUR,,kitchen
1002,2025-03-02 09:30:00,,c-7,SKU-1,Mug,1,12.5,,refunded,
1003,2025-03-02 09:30:00,,,SKU-1,Mug,1,12.5,,,
1004,2025-03-02 09:31:00,bob@example.com,c-8,SKU-3,Bowl,0,3.00,,,
`

func TestGenericCSV(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	storeID := newStore(t, pool, "Europe/Berlin", "EUR")
	path := writeFile(t, "orders.csv", genericOrdersCSV)
	var bar bytes.Buffer

	sum, err := Run(ctx, pool, Params{StoreID: storeID, Format: FormatGenericCSV, Paths: []string{path}, Progress: &bar})
	if err != nil {
		t.Fatal(err)
	}
	if sum.RowsRead != 5 || sum.RowsImported != 3 || sum.RowsRejected != 2 || sum.RowsSkipped != 0 ||
		sum.Orders != 2 || sum.Customers != 2 || sum.Products != 2 || sum.Lines != 3 {
		t.Fatalf("summary %+v", sum)
	}
	wantRejected := []Rejected{
		{File: path, Line: 5, Reason: "a customer needs customer_id or email"},
		{File: path, Line: 6, Reason: `quantity "0" is not a positive whole number`},
	}
	if !reflect.DeepEqual(sum.Rejected, wantRejected) {
		t.Fatalf("rejected %+v", sum.Rejected)
	}
	assertRows(t, pool, `SELECT coalesce(external_id, 'NULL'), coalesce(email, 'NULL') FROM customers ORDER BY 1`,
		"NULL ana@example.com", "c-7 NULL")
	assertRows(t, pool, `SELECT external_id, sku, title, category, price_minor, currency FROM products ORDER BY 1`,
		"SKU-1 SKU-1 Mug kitchen 1250 EUR", "SKU-2 SKU-2 Plate kitchen 800 EUR")
	// 1002 has no offset: it is Berlin time (UTC+1 in March).
	assertRows(t, pool, `SELECT external_id, status, currency, total_minor, placed_at FROM orders ORDER BY 1`,
		"1001 paid EUR 3300 2025-03-01 09:00:00 +0000 UTC",
		"1002 refunded EUR 1250 2025-03-02 08:30:00 +0000 UTC")
	if !strings.Contains(bar.String(), "import: done, ") {
		t.Fatalf("progress output %q", bar.String())
	}
}

func TestGenericCSVCustomerByEmailAndReimport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	storeID := newStore(t, pool, "UTC", "USD")
	first := writeFile(t, "a.csv", "order_id,placed_at,email,product_id,quantity,unit_price\n"+
		"A1,2025-01-01 10:00:00,ana@example.com,P1,1,5.00\n")
	// Later export: the shop now has customer ids, and one product id moved.
	second := writeFile(t, "b.csv", "order_id,placed_at,customer_id,email,product_id,sku,quantity,unit_price,title\n"+
		"A2,2025-02-01 10:00:00,c-9,ANA@example.com,P1,,2,4.00,Pen\n"+
		"A3,2025-02-02 10:00:00,c-10,bo@example.com,,SKU-2,1,1.5,Pad\n")

	p := Params{StoreID: storeID, Format: FormatGenericCSV, Paths: []string{first}}
	if _, err := Run(ctx, pool, p); err != nil {
		t.Fatal(err)
	}
	p.Paths = []string{first, second}
	sum, err := Run(ctx, pool, p)
	if err != nil {
		t.Fatal(err)
	}
	// c-9's email belongs to the customer from the first import: no new
	// customer, the order goes to her. P1 gets its newer price and a title.
	if sum.Orders != 2 || sum.Customers != 1 || sum.Products != 1 || sum.ProductsUpdated != 1 || sum.Lines != 2 {
		t.Fatalf("summary %+v", sum)
	}
	assertRows(t, pool, `SELECT o.external_id, coalesce(c.external_id, 'NULL'), c.email FROM orders o
		JOIN customers c ON c.id = o.customer_id ORDER BY 1`,
		"A1 NULL ana@example.com", "A2 NULL ana@example.com", "A3 c-10 bo@example.com")
	assertRows(t, pool, `SELECT external_id, sku, title, price_minor FROM products ORDER BY 1`,
		"P1  Pen 400", "SKU-2 SKU-2 Pad 150")

	before := snapshot(t, pool)
	again, err := Run(ctx, pool, p)
	if err != nil {
		t.Fatal(err)
	}
	if again.Orders+again.Customers+again.Products+again.Lines+again.OrdersUpdated+again.CustomersUpdated+
		again.ProductsUpdated+again.LinesUpdated != 0 {
		t.Fatalf("re-import changed something: %+v", again)
	}
	if after := snapshot(t, pool); !reflect.DeepEqual(before, after) {
		t.Fatalf("rows changed:\nbefore %v\nafter  %v", before, after)
	}
}

func TestGenericCSVUnknownColumn(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	storeID := newStore(t, pool, "UTC", "USD")
	path := writeFile(t, "orders.csv", "order_id,placed_at,email,sku,quantity,unit_price,colour,Size\n1,2025-03-01 10:00:00,a@b.c,X,1,1.00,red,M\n")

	_, err := Run(context.Background(), pool, Params{StoreID: storeID, Format: FormatGenericCSV, Paths: []string{path}})
	if err == nil || !strings.Contains(err.Error(), `unknown columns "colour", "size"`) {
		t.Fatalf("want an error naming the unknown columns, got %v", err)
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM orders`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("a failed import must save nothing: %d orders, %v", n, err)
	}
}

// TestRealFiles imports the first three days of the real data set.
func TestRealFiles(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	storeID := newStore(t, pool, "Europe/London", "GBP")
	paths := []string{
		filepath.Join(dataDir, "2010-12-01.csv"),
		filepath.Join(dataDir, "2010-12-02.csv"),
		filepath.Join(dataDir, "2010-12-03.csv"),
	}
	var lines int64
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("the data set must be present: %v", err)
		}
		lines += int64(bytes.Count(b, []byte("\n"))) - 1 // minus the header
	}

	sum, err := Run(context.Background(), pool, Params{StoreID: storeID, Format: FormatOnlineRetail, Paths: paths})
	if err != nil {
		t.Fatal(err)
	}
	if sum.RowsRead != lines {
		t.Fatalf("read %d rows, the files have %d", sum.RowsRead, lines)
	}
	if sum.RowsRead != sum.RowsImported+sum.RowsSkipped+sum.RowsRejected || sum.RowsRejected != 0 {
		t.Fatalf("rows do not add up: %+v", sum)
	}
	var lineCount, nonProducts int64
	err = pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE sku !~ '^[0-9]{5}')
		FROM order_lines`).Scan(&lineCount, &nonProducts)
	if err != nil {
		t.Fatal(err)
	}
	if lineCount != sum.Lines || lineCount == 0 || nonProducts != 0 {
		t.Fatalf("%d lines stored (%d not merchandise), summary says %d", lineCount, nonProducts, sum.Lines)
	}
	t.Logf("%+v", sum)
}

func TestFolderIsReadInNameOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{"b.csv", "a.CSV", "notes.txt", "c.csv"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := expandPaths([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, filepath.Base(f.path))
	}
	if want := []string{"a.CSV", "b.csv", "c.csv"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
}

func TestOrdinalsCountEachOrderAcrossInterruptions(t *testing.T) {
	t.Parallel()
	o := newOrdinals()
	var got []string
	for _, order := range []string{"A", "A", "B", "A", "C", "B", "B"} {
		got = append(got, order+o.next(order))
	}
	if want := []string{"A1", "A2", "B1", "A3", "C1", "B2", "B3"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestCustomerID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"17850.0": "17850", "17850": "17850", " 12346.00 ": "12346", "": ""} {
		if got, ok := customerID(in); !ok || got != want {
			t.Errorf("customerID(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"17850.5", "abc", ".0", "1e4"} {
		if _, ok := customerID(in); ok {
			t.Errorf("customerID(%q) accepted", in)
		}
	}
}

func TestIsMerchandise(t *testing.T) {
	t.Parallel()
	yes := []string{"85123A", "71053", "10002", "47591D"}
	no := []string{"POST", "DOT", "M", "C2", "D", "S", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "B",
		"DCGSSGIRL", "DCGS0076", "GIFT_0001_20", "23444", "23702", "1234"}
	for _, c := range yes {
		if !isMerchandise(c) {
			t.Errorf("%s should be merchandise", c)
		}
	}
	for _, c := range no {
		if isMerchandise(c) {
			t.Errorf("%s should not be merchandise", c)
		}
	}
}

func newStore(t testing.TB, pool *pgxpool.Pool, tz, currency string) int64 {
	t.Helper()
	var id int64
	err := pool.QueryRow(context.Background(), `INSERT INTO stores (name, platform, domain, webhook_secret, timezone, currency)
		VALUES ('Test shop', 'generic', 'shop.example', 'secret', $1, $2) RETURNING id`, tz, currency).Scan(&id)
	if err != nil {
		t.Fatalf("insert store: %v", err)
	}
	return id
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func london(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// assertRows runs query and compares each row, its columns joined by spaces,
// with want.
func assertRows(t *testing.T, pool *pgxpool.Pool, query string, want ...string) {
	t.Helper()
	rows, err := pool.Query(context.Background(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			if tm, ok := v.(time.Time); ok {
				v = tm.UTC()
			}
			parts[i] = fmt.Sprint(v)
		}
		got = append(got, strings.Join(parts, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s\n got %q\nwant %q", query, got, want)
	}
}

// TestImportStampsChangedOrders: an import that refunds a line of an order
// already stored marks the order changed, so that served recommendation
// models, which follow changed_xid, see the refund.
func TestImportStampsChangedOrders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	storeID := newStore(t, pool, "Europe/London", "GBP")
	first := "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n" +
		"536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n" +
		"536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom\n"
	second := "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n" +
		"C536370,71053,WHITE METAL LANTERN,-2,2010-12-01 09:41:00,3.39,17850.0,United Kingdom\n"
	third := "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n" +
		"C536376,71053,WHITE METAL LANTERN,-1,2010-12-02 09:41:00,3.39,17850.0,United Kingdom\n"
	changed := func() int64 {
		t.Helper()
		var x int64
		if err := pool.QueryRow(ctx, `SELECT changed_xid::text::bigint FROM orders WHERE store_id = $1 AND external_id = '536365'`, storeID).Scan(&x); err != nil {
			t.Fatal(err)
		}
		return x
	}
	// The third import refunds more of an order already partly refunded: it
	// changes the order, but marks nothing newly refunded.
	for i, content := range []string{first, second, third} {
		before := int64(0)
		if i > 0 {
			before = changed()
		}
		sum, err := Run(ctx, pool, Params{StoreID: storeID, Format: FormatOnlineRetail, Paths: []string{writeFile(t, fmt.Sprint("r", i, ".csv"), content)}})
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && changed() <= before {
			t.Errorf("the refunding import left the order's changed_xid at %d", before)
		}
		if want := []int64{0, 1, 0}[i]; sum.OrdersRefunded != want {
			t.Errorf("import %d: %d orders marked refunded, want %d", i+1, sum.OrdersRefunded, want)
		}
	}
}
