package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/entra-helper/entra-helper/internal/bench/loadgen"
	"github.com/entra-helper/entra-helper/ipc"
)

func main() {
	c, _ := strconv.Atoi(os.Args[2])
	d, _ := time.ParseDuration(os.Args[3])
	var res loadgen.Result
	if os.Args[1] == "sock" {
		res = loadgen.Socket(context.Background(), os.Args[4], &ipc.Request{Op: ipc.OpToken, Profile: "sp"}, c, d)
	} else {
		h := http.Header{"X-Databricks-Metadata-Version": {"1"}, "X-Databricks-Host": {"https://adb-1234567890123456.7.azuredatabricks.net"}}
		res = loadgen.HTTP(context.Background(), os.Args[4], h, c, d)
	}
	fmt.Printf("%.0f/s p50 %v p99 %v errs %d %v\n", res.Rate(), res.Latency.Median, res.Latency.P99, res.Errors, res.FirstErr)
}
