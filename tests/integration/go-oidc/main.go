// The go-oidc recipe of docs/relying-parties.md as a program that test_relying_parties.py drives: the
// authorization code flow with PKCE through coreos/go-oidc and golang.org/x/oauth2, as Debian 12 packages them
// (go-oidc v2, x/oauth2 0.3), built in GOPATH mode from /usr/share/gocode.
//
//	go-oidc ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI
//
// Prints the authorization URL as its first line, reads the URL the browser was redirected to from stdin, then
// redeems the code, verifies the id_token (signature, iss, aud, exp, nonce, at_hash) and prints the userinfo claims
// decoded into typed Go fields as one JSON line. Any failure: a message on stderr and exit status 1.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"

	oidc "github.com/coreos/go-oidc"
	"golang.org/x/oauth2"
)

func random() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go-oidc: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 5 {
		fail("usage: go-oidc ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI")
	}
	issuer, clientID, secret, redirect := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	ctx := context.Background()

	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		fail("discovery: %v", err)
	}
	config := oauth2.Config{
		ClientID:     clientID,
		ClientSecret: secret,
		Endpoint:     provider.Endpoint(),
		RedirectURL:  redirect,
		Scopes:       []string{oidc.ScopeOpenID, "profile", "email"},
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: clientID})

	// PKCE (RFC 7636) by hand: x/oauth2 0.3 has no helper for it.
	codeVerifier, state, nonce := random(), random(), random()
	sum := sha256.Sum256([]byte(codeVerifier))
	fmt.Println(config.AuthCodeURL(state, oidc.Nonce(nonce),
		oauth2.SetAuthURLParam("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:])),
		oauth2.SetAuthURLParam("code_challenge_method", "S256")))

	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		fail("reading the callback URL: %v", err)
	}
	callback, err := url.Parse(strings.TrimSpace(line))
	if err != nil {
		fail("callback URL: %v", err)
	}
	query := callback.Query()
	if query.Get("state") != state {
		fail("state mismatch")
	}
	token, err := config.Exchange(ctx, query.Get("code"), oauth2.SetAuthURLParam("code_verifier", codeVerifier))
	if err != nil {
		fail("token request: %v", err)
	}
	rawIDToken, ok := token.Extra("id_token").(string)
	if !ok {
		fail("no id_token in the token response")
	}
	idToken, err := verifier.Verify(ctx, rawIDToken)
	if err != nil {
		fail("id_token: %v", err)
	}
	if idToken.Nonce != nonce {
		fail("id_token nonce mismatch")
	}
	if err := idToken.VerifyAccessToken(token.AccessToken); err != nil {
		fail("at_hash: %v", err)
	}
	userInfo, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(token))
	if err != nil {
		fail("userinfo: %v", err)
	}
	var claims struct {
		Sub           string `json:"sub"`
		Name          string `json:"name"`
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		UpdatedAt     int64  `json:"updated_at"`
	}
	if err := userInfo.Claims(&claims); err != nil {
		fail("userinfo claims: %v", err)
	}
	out, _ := json.Marshal(map[string]interface{}{
		"subject": idToken.Subject, "userinfo_email_verified": userInfo.EmailVerified, "claims": claims})
	fmt.Println(string(out))
}
