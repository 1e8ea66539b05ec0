// Command dockertask is the process inside the agent's Docker test image:
// it prints a line, then either exits with -exit or serves a greeting on
// -listen until SIGTERM.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	listen := flag.String("listen", "", "TCP address to serve on")
	exit := flag.Int("exit", 0, "exit status when not serving")
	flag.Parse()
	fmt.Println("dockertask started", os.Getenv("MESOS_TASK_ID"), os.Getenv("MESOS_SANDBOX"))
	if *listen == "" {
		os.Exit(*exit)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		<-sig
		fmt.Println("got SIGTERM")
		os.Exit(0)
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		fmt.Fprintln(c, "hello from container")
		c.Close()
	}
}
