package recommend

import (
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// retailDir is the UCI Online Retail data set, split by day, relative to
// this package's directory. It is read at test time and never copied into
// the repository (see /work/shared/datasets/online_retail_uci/README.md).
const retailDir = "../../../shared/datasets/online_retail_uci/by-day"

// retailCutoff is the split the reference numbers of the issue were
// measured with: 80 % of the data set's time range.
var retailCutoff = time.Date(2011, 9, 25, 21, 33, 12, 0, time.UTC)

var (
	retailOnce sync.Once
	retailHist History
	retailErr  error
)

// loadRetail returns the Online Retail data set as a History, loaded once
// per test binary. It fails the test (never skips) when the files are
// missing.
func loadRetail(tb testing.TB) History {
	tb.Helper()
	retailOnce.Do(func() { retailHist, retailErr = readRetail(retailDir) })
	if retailErr != nil {
		tb.Fatalf("load Online Retail from %s: %v", retailDir, retailErr)
	}
	return retailHist
}

// readRetail keeps the purchase lines of the data set: a CustomerID, an
// InvoiceNo not starting with C (cancellations are dropped, as the caller of
// the package drops refunded and cancelled lines), Quantity > 0,
// UnitPrice > 0 and a StockCode that starts with five digits (POST, DOT, M,
// C2, D, S, BANK CHARGES, AMAZONFEE, CRUK, PADS, B, m, DCGS…, gift_0001_…
// are not products; neither are the services 23444 and 23702, as in
// internal/importer).
//
// Product ids are 1, 2, … in order of a StockCode's first sale (the files
// are read by date, so the numbering is stable). Title is the StockCode's
// latest non-empty Description; the data has no categories, so Category is
// the description's last word ("WHITE HANGING HEART T-LIGHT HOLDER" ->
// "HOLDER"). PriceMinor is the median unit price of its lines in pence.
// Every product is in stock. Times are read as UTC.
func readRetail(dir string) (History, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	if err != nil {
		return History{}, err
	}
	if len(files) == 0 {
		return History{}, os.ErrNotExist
	}
	slices.Sort(files)
	ids := map[string]int64{}
	titles := map[int64]string{}
	prices := map[int64][]int64{}
	var purchases []Purchase
	var lastDate string
	var lastTime time.Time
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return History{}, err
		}
		r := csv.NewReader(fh)
		r.ReuseRecord = true
		header := true
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				fh.Close()
				return History{}, err
			}
			if header {
				header = false
				continue
			}
			invoice, code, desc := rec[0], strings.ToUpper(strings.TrimSpace(rec[1])), strings.TrimSpace(rec[2])
			if strings.HasPrefix(invoice, "C") || rec[6] == "" || !retailProduct(code) {
				continue
			}
			qty, err := strconv.Atoi(rec[3])
			if err != nil || qty <= 0 {
				continue
			}
			price, err := strconv.ParseFloat(rec[5], 64)
			if err != nil || price <= 0 {
				continue
			}
			cust, err := strconv.ParseFloat(rec[6], 64)
			if err != nil {
				continue
			}
			order, err := strconv.ParseInt(invoice, 10, 64)
			if err != nil {
				continue
			}
			if rec[4] != lastDate {
				t, err := time.Parse(time.DateTime, rec[4])
				if err != nil {
					fh.Close()
					return History{}, err
				}
				lastDate, lastTime = strings.Clone(rec[4]), t
			}
			id, ok := ids[code]
			if !ok {
				id = int64(len(ids) + 1)
				ids[strings.Clone(code)] = id
			}
			if desc != "" {
				titles[id] = strings.Clone(desc)
			}
			minor := int64(price*100 + 0.5)
			prices[id] = append(prices[id], minor)
			purchases = append(purchases, Purchase{
				Customer: int64(cust), Order: order, Product: id, At: lastTime,
				Quantity: qty, UnitPriceMinor: minor,
			})
		}
		fh.Close()
	}
	products := make(map[int64]Product, len(ids))
	for _, id := range ids {
		ps := prices[id]
		slices.Sort(ps)
		title := titles[id]
		cat := ""
		if i := strings.LastIndexByte(title, ' '); i >= 0 {
			cat = title[i+1:]
		} else {
			cat = title
		}
		products[id] = Product{ID: id, Title: title, Category: cat, PriceMinor: ps[len(ps)/2], InStock: true}
	}
	slices.SortStableFunc(purchases, func(a, b Purchase) int { return a.At.Compare(b.At) })
	return History{Products: products, Purchases: purchases}, nil
}

// retailProduct tells merchandise (a StockCode starting with five digits)
// from postage, fees and adjustments.
func retailProduct(code string) bool {
	if len(code) < 5 || code == "23444" || code == "23702" {
		return false
	}
	for i := 0; i < 5; i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}
