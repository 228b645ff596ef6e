package dataverse

import (
	"errors"
	"net/http"
	"strings"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// Error and TransportError are the transport's typed errors: a non-2xx
// answer after retries, and a call that got no answer.
type (
	Error          = msapi.Error
	TransportError = msapi.TransportError
)

// AsError returns the *Error in err's chain.
func AsError(err error) (*Error, bool) { return msapi.AsError(err) }

// IsNotFound reports an HTTP 404 (record or URL segment not found).
func IsNotFound(err error) bool { return msapi.IsNotFound(err) }

// IsForbidden reports an HTTP 403 (typically a missing privilege, code 0x80040220).
func IsForbidden(err error) bool { return msapi.IsForbidden(err) }

// IsUnauthorized reports an HTTP 401 that survived a token refresh.
func IsUnauthorized(err error) bool { return msapi.IsUnauthorized(err) }

// IsPreconditionFailed reports an HTTP 412 (If-Match did not match).
func IsPreconditionFailed(err error) bool { return msapi.IsPreconditionFailed(err) }

// IsThrottled reports a service-protection throttle that retries did not get past.
func IsThrottled(err error) bool { return msapi.IsThrottled(err) }

// Publish / import lock: "Cannot start another [Publish] because there is a
// previous [Publish] running at this moment".
var customizationLockCodes = map[string]bool{
	"0x80071151": true, "-2147020463": true,
}

// IsCustomizationLock reports that another solution operation (publish,
// import) is running; the HTTP status of this error is not documented, so it
// is recognised by code or message only. A call that ended without an
// answer (its context ended while the transport waited to retry) counts
// when its last answer was the lock.
func IsCustomizationLock(err error) bool {
	e, ok := customizationLockAnswer(err)
	if !ok {
		return false
	}
	if customizationLockCodes[strings.ToLower(e.Code)] {
		return true
	}
	for _, s := range []string{
		"Cannot start another", "Cannot start the requested operation",
		"because there is a previous", "because there is another", "CustomizationLockException",
	} {
		if strings.Contains(e.Message, s) {
			return true
		}
	}
	return false
}

// newErrorFromResponse builds the *Error of a Dataverse answer whose body is
// already read (one part of a $batch answer).
func newErrorFromResponse(method, absURL, path string, status int, header http.Header, body []byte) *Error {
	return msapi.NewError(msapi.Error{
		API: APIName, Method: method, URL: absURL, Path: path, StatusCode: status, Header: header, Body: body,
	})
}

// customizationLockAnswer is the server's answer err carries: the *Error in
// its chain, or else the last answer of a *TransportError.
func customizationLockAnswer(err error) (*Error, bool) {
	if e, ok := AsError(err); ok {
		return e, true
	}
	var te *TransportError
	if errors.As(err, &te) && te.LastAnswer != nil {
		return te.LastAnswer, true
	}
	return nil, false
}

// LockAnswer returns the customization lock refusal err carries (see
// IsCustomizationLock), whose Message names the running operation.
func LockAnswer(err error) (*Error, bool) {
	e, ok := customizationLockAnswer(err)
	if !ok || !IsCustomizationLock(e) {
		return nil, false
	}
	return e, true
}
