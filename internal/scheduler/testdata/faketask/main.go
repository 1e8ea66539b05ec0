// Command faketask stands in for "hashfleet server" and "hashfleet worker"
// in the scheduler's cluster tests (as a fetched command or as the
// entrypoint of a FROM scratch image): the server listens on the Stratum
// and HTTP addresses it was given, the worker keeps a TCP connection to
// the server address it was told. Both exit 0 on SIGTERM.
//
// Server HTTP endpoints: /exit (crash with status 1), /rpcpw (the RPC
// password from the environment), /healthtcp (HASHFLEET_HEALTH_TCP from
// the environment). A server started with --network crash
// exits with status 3 at once; one that finds the password in its argv
// exits with status 4.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// crashNode, as the server's --node-rpc, makes it exit at once (the
// scheduler's crash-loop test).
const crashNode = "http://crash.invalid:1"

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: faketask server|worker flags…")
		os.Exit(2)
	}
	switch args[0] {
	case "server":
		os.Exit(server(args[1:]))
	case "worker":
		os.Exit(worker(args[1:]))
	}
	fmt.Fprintln(os.Stderr, "unknown role", args[0])
	os.Exit(2)
}

func waitSignal() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}

func server(args []string) int {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	stratum := fs.String("stratum-listen", "", "")
	httpAddr := fs.String("http-listen", "", "")
	fs.String("network", "", "")
	nodeRPC := fs.String("node-rpc", "", "")
	fs.String("payout", "", "")
	fs.String("rpc-user", "", "")
	fs.String("log-format", "", "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if pw := os.Getenv("HASHFLEET_RPC_PASSWORD"); pw != "" {
		for _, a := range os.Args {
			if strings.Contains(a, pw) {
				fmt.Fprintln(os.Stderr, "RPC password found in argv")
				return 4
			}
		}
	}
	if *nodeRPC == crashNode {
		fmt.Fprintln(os.Stderr, "crashing at once, as asked")
		return 3
	}
	sl, err := net.Listen("tcp", *stratum)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 5
	}
	go func() {
		for {
			c, err := sl.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c)
		}
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) { os.Exit(1) })
	mux.HandleFunc("/rpcpw", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, os.Getenv("HASHFLEET_RPC_PASSWORD"))
	})
	mux.HandleFunc("/healthtcp", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, os.Getenv("HASHFLEET_HEALTH_TCP"))
	})
	hl, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 5
	}
	go http.Serve(hl, mux)
	fmt.Println("faketask server listening", *stratum, *httpAddr)
	waitSignal()
	return 0
}

func worker(args []string) int {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	url := fs.String("o", "", "")
	fs.String("u", "", "")
	fs.String("t", "", "")
	fs.String("log-format", "", "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	addr, ok := strings.CutPrefix(*url, "stratum+tcp://")
	if !ok {
		return 2
	}
	go func() {
		for { // like a real worker: keep (re)connecting to the pool
			c, err := net.Dial("tcp", addr)
			if err == nil {
				fmt.Println("faketask worker connected to", addr)
				io.Copy(io.Discard, c)
				c.Close()
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	waitSignal()
	return 0
}
