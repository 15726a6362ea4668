// Command tinyup is the trivial upstream of the load run: plain HTTP/1.1 on
// loopback, answering every request with 200 and the 13-byte body
// "Hello, World!". Every front in the keep-alive scenario proxies to it, and
// run.sh also loads it directly, as the reference the fronts are held to.
package main

import (
	"flag"
	"log"
	"net/http"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18480", "listen `address`")
	flag.Parse()

	body := []byte("Hello, World!")
	srv := &http.Server{
		Addr: *addr,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header()["Content-Type"] = []string{"text/plain"}
			w.Write(body)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	log.Fatal(srv.ListenAndServe())
}
