package campaign_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// postgresCPU is the CPU time PostgreSQL's processes on this machine have
// used so far (their own, and that of exited backends their postmaster
// reaped), read from /proc; ok is false where that cannot be read. It
// shares the machine's cores with the benchmark, so it belongs in the cost
// of an email.
func postgresCPU() (cpu time.Duration, ok bool) {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// Fields after the command's closing parenthesis: state is field 3,
		// utime 14, stime 15, cutime 16, cstime 17.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) < 15 {
			continue
		}
		for _, i := range []int{11, 12, 13, 14} {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			cpu += time.Duration(n) * tick
		}
		ok = true
	}
	return cpu, ok
}
