package importer

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/remarket/remarket/internal/shop"
)

// onlineRetailHeader is the header of every file of the UCI Online Retail
// data set.
var onlineRetailHeader = []string{"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"}

// The data set is priced in pounds sterling whatever the store's currency.
const onlineRetailCurrency = "GBP"

// Skip reasons of the online-retail format.
const (
	skipNoCustomer        = "no_customer"           // a guest sale: nobody to email
	skipNotMerchandise    = "not_merchandise"       // postage, fees, discounts, manual adjustments
	skipNegativePrice     = "negative_price"        // bad-debt adjustments
	skipNonPositiveQty    = "non_positive_quantity" // stock adjustments on a sales invoice
	skipCancelNotNegative = "cancellation_quantity_not_negative"
)

// serviceCodes are stock codes that look like products (five digits) but
// are services; recommendations must never suggest them.
var serviceCodes = map[string]bool{
	"23444": true, // "Next Day Carriage"
	"23702": true, // "High Resolution Image"
}

// onlineRetail parses the UCI Online Retail files (see
// /work/shared/datasets/online_retail_uci/README.md and docs/import.md).
type onlineRetail struct {
	loc      *time.Location
	ordinals *ordinals
	// Rows of one invoice share a timestamp, so remembering the last one
	// saves most of the time parsing.
	lastDate string
	lastTime time.Time
}

func newOnlineRetail(loc *time.Location) *onlineRetail {
	return &onlineRetail{loc: loc, ordinals: newOrdinals()}
}

func (p *onlineRetail) readHeader(h []string) error {
	same := slices.EqualFunc(h, onlineRetailHeader, func(a, b string) bool {
		return strings.EqualFold(strings.TrimSpace(a), b)
	})
	if !same {
		return fmt.Errorf("columns are %s, want %s", strings.Join(h, ","), strings.Join(onlineRetailHeader, ","))
	}
	return nil
}

// parse checks every field first, so that a malformed row is rejected (and
// reported) even when it would have been skipped anyway.
func (p *onlineRetail) parse(rec []string) (r row, skip, reject string) {
	if len(rec) != len(onlineRetailHeader) {
		return r, "", fmt.Sprintf("has %d columns, want %d", len(rec), len(onlineRetailHeader))
	}
	invoice := strings.TrimSpace(rec[0])
	if invoice == "" {
		return r, "", "InvoiceNo is empty"
	}
	r.lineExt = p.ordinals.next(invoice)
	code := strings.ToUpper(strings.TrimSpace(rec[1])) // "85123a" and "85123A" are one product
	if code == "" {
		return r, "", "StockCode is empty"
	}
	qty, err := strconv.Atoi(strings.TrimSpace(rec[3]))
	if err != nil || qty > math.MaxInt32 || qty < math.MinInt32 {
		return r, "", fmt.Sprintf("Quantity %q is not a whole number", rec[3])
	}
	placed, err := p.date(rec[4])
	if err != nil {
		return r, "", fmt.Sprintf("InvoiceDate %q is not YYYY-MM-DD HH:MM:SS", rec[4])
	}
	price, err := shop.ParseMinor(rec[5], onlineRetailCurrency)
	if err != nil {
		return r, "", fmt.Sprintf("UnitPrice %q is not a decimal number", rec[5])
	}
	cust, ok := customerID(rec[6])
	if !ok {
		return r, "", fmt.Sprintf("CustomerID %q is not a whole number", rec[6])
	}

	switch {
	case cust == "":
		return r, skipNoCustomer, ""
	case !isMerchandise(code):
		return r, skipNotMerchandise, ""
	case price < 0:
		return r, skipNegativePrice, ""
	}
	r.orderExt, r.placedAt, r.custExt, r.country = invoice, placed, cust, countryCode(rec[7])
	r.productExt, r.sku, r.title, r.priceMinor = code, code, strings.TrimSpace(rec[2]), price
	r.currency, r.status = onlineRetailCurrency, string(shop.OrderPaid)
	if strings.HasPrefix(invoice, "C") {
		if qty >= 0 {
			return r, skipCancelNotNegative, ""
		}
		r.kind, r.quantity = kindRefund, int32(-qty)
		return r, "", ""
	}
	if qty <= 0 {
		return r, skipNonPositiveQty, ""
	}
	r.kind, r.quantity = kindLine, int32(qty)
	return r, "", ""
}

// date parses the local invoice time in the store's timezone.
func (p *onlineRetail) date(s string) (time.Time, error) {
	if s == p.lastDate {
		return p.lastTime, nil
	}
	t, err := time.ParseInLocation(time.DateTime, strings.TrimSpace(s), p.loc)
	if err != nil {
		return time.Time{}, err
	}
	p.lastDate, p.lastTime = s, t
	return t, nil
}

// customerID turns the float-formatted "17850.0" into "17850". It returns
// "", true for an empty field and false for anything that is not a whole
// number.
func customerID(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", true
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0") != "" {
		return "", false
	}
	return whole, true
}

// isMerchandise tells real products (stock codes starting with five digits,
// as the data set's README says) from postage, fees, discounts and manual
// entries: POST, DOT, M, C2, D, S, BANK CHARGES, AMAZONFEE, CRUK, PADS, B,
// DCGS…, gift_0001_….
func isMerchandise(code string) bool {
	if len(code) < 5 || serviceCodes[code] {
		return false
	}
	for i := 0; i < 5; i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// countries maps the data set's country names to ISO 3166-1 alpha-2, the
// form customers.country holds. Names that are not one country ("Channel
// Islands", "European Community", "Unspecified") map to "".
var countries = map[string]string{
	"Australia": "AU", "Austria": "AT", "Bahrain": "BH", "Belgium": "BE", "Brazil": "BR",
	"Canada": "CA", "Cyprus": "CY", "Czech Republic": "CZ", "Denmark": "DK", "EIRE": "IE",
	"Finland": "FI", "France": "FR", "Germany": "DE", "Greece": "GR", "Hong Kong": "HK",
	"Iceland": "IS", "Israel": "IL", "Italy": "IT", "Japan": "JP", "Lebanon": "LB",
	"Lithuania": "LT", "Malta": "MT", "Netherlands": "NL", "Norway": "NO", "Poland": "PL",
	"Portugal": "PT", "RSA": "ZA", "Saudi Arabia": "SA", "Singapore": "SG", "Spain": "ES",
	"Sweden": "SE", "Switzerland": "CH", "USA": "US", "United Arab Emirates": "AE",
	"United Kingdom": "GB",
}

func countryCode(name string) string {
	return countries[strings.TrimSpace(name)]
}
