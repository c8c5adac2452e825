package recommend

import (
	"os"
	"runtime/debug"
	"slices"
	"testing"
	"time"
)

// validationEnd is where the validation history ends: the test period's
// cutoff. Evaluate on the purchases before it, with its own default cutoff
// (2011-07-28 00:10:00), is where every default was chosen; the test period
// after retailCutoff is only run to report.
var validationEnd = retailCutoff

// validationHistory is the Online Retail history before the test period.
func validationHistory(tb testing.TB) History {
	h := loadRetail(tb)
	n, _ := slices.BinarySearchFunc(h.Purchases, validationEnd, func(x Purchase, t time.Time) int { return x.At.Compare(t) })
	return History{Products: h.Products, Purchases: h.Purchases[:n]}
}

// TestEvaluateValidation runs the evaluation on the validation split, the
// one the defaults are tuned on. It is slow, so it runs only with
// REMARKET_VALIDATION=1.
func TestEvaluateValidation(t *testing.T) {
	if os.Getenv("REMARKET_VALIDATION") == "" {
		t.Skip("set REMARKET_VALIDATION=1 to run the validation split")
	}
	h := validationHistory(t)
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(400 << 20))
	start := time.Now()
	r := Evaluate(h, EvalParams{K: 10})
	t.Logf("Evaluate: %s (train %d lines, test %d lines)\n%s", time.Since(start).Round(time.Millisecond),
		r.TrainPurchases, r.TestPurchases, reportTable(r))
}
