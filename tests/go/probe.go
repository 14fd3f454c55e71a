// The consumer matrix's Go probe: one process checks many files, read from stdin, one request a
// line (fields separated by tabs; passwords come on stdin only and are never printed):
//
//	chain TAB FILE TAB PASSWORD         go-pkcs12 DecodeChain: OK TAB FILE TAB leaf=<sha256> TAB cas=<sha256,...>
//	truststore TAB FILE TAB PASSWORD    go-pkcs12 DecodeTrustStore: OK TAB FILE TAB certs=<sha256,...>
//	https TAB URL TAB CAFILE [TAB CERT TAB KEY]
//	                                    crypto/tls (net/http) GET trusting CAFILE's PEM
//	                                    certificates, presenting CERT/KEY: OK TAB URL TAB HTTP <status>
//
// A failure is FAIL TAB FILE-OR-URL TAB <error>. Built offline against Debian's
// golang-sslmate-src-go-pkcs12-dev (GO111MODULE=off, GOPATH=/usr/share/gocode).
package main

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

func fingerprint(certificate *x509.Certificate) string {
	sum := sha256.Sum256(certificate.Raw)
	return hex.EncodeToString(sum[:])
}

func fingerprints(certificates []*x509.Certificate) string {
	hashes := make([]string, 0, len(certificates))
	for _, certificate := range certificates {
		hashes = append(hashes, fingerprint(certificate))
	}
	sort.Strings(hashes)
	return strings.Join(hashes, ",")
}

func chain(file, password string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	key, leaf, cas, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		return "", err
	}
	if key == nil {
		return "", errors.New("no private key")
	}
	return "leaf=" + fingerprint(leaf) + "\tcas=" + fingerprints(cas), nil
}

func truststore(file, password string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	certificates, err := pkcs12.DecodeTrustStore(data, password)
	if err != nil {
		return "", err
	}
	return "certs=" + fingerprints(certificates), nil
}

func get(fields []string) (string, error) {
	pem, err := os.ReadFile(fields[2])
	if err != nil {
		return "", err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return "", errors.New("no certificate in " + fields[2])
	}
	config := &tls.Config{RootCAs: roots}
	if len(fields) == 5 {
		pair, err := tls.LoadX509KeyPair(fields[3], fields[4])
		if err != nil {
			return "", err
		}
		config.Certificates = []tls.Certificate{pair}
	}
	client := &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{TLSClientConfig: config, DisableKeepAlives: true},
	}
	response, err := client.Get(fields[1])
	if err != nil {
		return "", err
	}
	defer response.Body.Close()
	if _, err := io.ReadAll(response.Body); err != nil {
		return "", err
	}
	if response.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d", response.StatusCode)
	}
	return fmt.Sprintf("HTTP %d", response.StatusCode), nil
}

func main() {
	scanner := bufio.NewScanner(os.Stdin)
	for scanner.Scan() {
		fields := strings.Split(scanner.Text(), "\t")
		var detail string
		var err error
		switch {
		case fields[0] == "chain" && len(fields) == 3:
			detail, err = chain(fields[1], fields[2])
		case fields[0] == "truststore" && len(fields) == 3:
			detail, err = truststore(fields[1], fields[2])
		case fields[0] == "https" && (len(fields) == 3 || len(fields) == 5):
			detail, err = get(fields)
		default:
			fmt.Fprintln(os.Stderr, "bad request:", fields[0])
			os.Exit(2)
		}
		if err != nil {
			fmt.Printf("FAIL\t%s\t%s\n", fields[1], strings.ReplaceAll(err.Error(), "\n", " "))
		} else {
			fmt.Printf("OK\t%s\t%s\n", fields[1], detail)
		}
	}
}
