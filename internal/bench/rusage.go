package bench

import (
	"syscall"
	"time"
)

type syscallRusage = syscall.Rusage

func rusageCPU(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
