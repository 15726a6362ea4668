package acme

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libdns/libdns"
)

// fakeRoute53 is the part of the Route 53 API that the route53 provider
// uses for challenges, for one hosted zone: list, change (CREATE, UPSERT,
// DELETE) and get change. It keeps record sets by name and type, and
// refuses CREATE of a set that exists, as Route 53 does.
type fakeRoute53 struct {
	mu    sync.Mutex
	sets  map[string][]string // "name type" -> values
	auths []string            // Authorization headers seen
}

type r53Set struct {
	Name   string   `xml:"Name"`
	Type   string   `xml:"Type"`
	TTL    int64    `xml:"TTL"`
	Values []string `xml:"ResourceRecords>ResourceRecord>Value"`
}

func (f *fakeRoute53) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auths = append(f.auths, r.Header.Get("Authorization"))
	w.Header().Set("Content-Type", "text/xml")
	const changeInfo = `<ChangeInfo><Id>/change/C1</Id><Status>INSYNC</Status><SubmittedAt>2026-01-01T00:00:00Z</SubmittedAt></ChangeInfo>`
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/2013-04-01/hostedzone/ZFAKE/rrset":
		var b strings.Builder
		b.WriteString(`<ListResourceRecordSetsResponse><ResourceRecordSets>`)
		for key, values := range f.sets {
			name, typ, _ := strings.Cut(key, " ")
			xml.NewEncoder(&b).EncodeElement(r53Set{Name: name, Type: typ, TTL: 60, Values: values},
				xml.StartElement{Name: xml.Name{Local: "ResourceRecordSet"}})
		}
		b.WriteString(`</ResourceRecordSets><IsTruncated>false</IsTruncated><MaxItems>300</MaxItems></ListResourceRecordSetsResponse>`)
		fmt.Fprint(w, b.String())
	case r.Method == http.MethodPost && strings.TrimSuffix(r.URL.Path, "/") == "/2013-04-01/hostedzone/ZFAKE/rrset":
		var req struct {
			Changes []struct {
				Action string `xml:"Action"`
				Set    r53Set `xml:"ResourceRecordSet"`
			} `xml:"ChangeBatch>Changes>Change"`
		}
		if err := xml.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, c := range req.Changes {
			key := c.Set.Name + " " + c.Set.Type
			switch c.Action {
			case "CREATE":
				if _, ok := f.sets[key]; ok {
					w.WriteHeader(http.StatusBadRequest)
					fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidChangeBatch</Code><Message>Tried to create resource record set [name='%s', type='%s'] but it already exists</Message></Error></ErrorResponse>`, c.Set.Name, c.Set.Type)
					return
				}
				f.sets[key] = c.Set.Values
			case "UPSERT":
				f.sets[key] = c.Set.Values
			case "DELETE":
				delete(f.sets, key)
			}
		}
		fmt.Fprintf(w, `<ChangeResourceRecordSetsResponse>%s</ChangeResourceRecordSetsResponse>`, changeInfo)
	case r.Method == http.MethodGet && r.URL.Path == "/2013-04-01/change/C1":
		fmt.Fprintf(w, `<GetChangeResponse>%s</GetChangeResponse>`, changeInfo)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `<ErrorResponse><Error><Code>NoSuchThing</Code><Message>%s %s</Message></Error></ErrorResponse>`, r.Method, r.URL.Path)
	}
}

// TestRoute53ProviderApexAndWildcard runs the provider set up from the
// environment against a fake Route 53 on loopback, presenting and cleaning
// up the two challenge records that DOMAIN and *.DOMAIN share a name for.
func TestRoute53ProviderApexAndWildcard(t *testing.T) {
	fake := &fakeRoute53{sets: map[string][]string{}}
	api := httptest.NewServer(fake)
	defer api.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config"), nil, 0o600)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_ENDPOINT_URL_ROUTE_53", api.URL)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	p, err := NewDNSProvider(context.Background(), "route53", envOf(map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDPORTICOTEST", "AWS_SECRET_ACCESS_KEY": testSecret,
		"AWS_HOSTED_ZONE_ID": "ZFAKE", "AWS_MAX_RETRIES": "1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const zone, name = "example.com.", "_acme-challenge.shop"
	key := name + "." + zone + " TXT"
	txt := func(v string) []libdns.Record {
		return []libdns.Record{libdns.TXT{Name: name, Text: v, TTL: time.Minute}}
	}

	for _, v := range []string{"apex-token", "wildcard-token"} {
		if _, err := p.AppendRecords(ctx, zone, txt(v)); err != nil {
			t.Fatalf("presenting %s: %v", v, err)
		}
	}
	fake.mu.Lock()
	got := slices.Clone(fake.sets[key])
	fake.mu.Unlock()
	slices.Sort(got)
	if want := []string{`"apex-token"`, `"wildcard-token"`}; !slices.Equal(got, want) {
		t.Fatalf("record set after two challenges: got %q, want %q", got, want)
	}

	if _, err := p.DeleteRecords(ctx, zone, txt("apex-token")); err != nil {
		t.Fatalf("cleaning up: %v", err)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if got := fake.sets[key]; !slices.Equal(got, []string{`"wildcard-token"`}) {
		t.Errorf("after cleaning up one challenge: got %q, want the other's value", got)
	}
	for _, a := range fake.auths {
		if !strings.Contains(a, "Credential=AKIDPORTICOTEST/") {
			t.Errorf("request not signed with the configured key: %q", a)
		}
	}
}
