// Package rpc declares the message structs of zrepl's ByteStreamRPC v1 (May 2017) with
// the same type names, field names, field order and field types.
package rpc

import "oracle/zfs"

type RequestId [16]byte
type RequestType uint8
type ErrorId uint8
type ResponseType uint8
type InitialReplPolicy string

type RequestHeader struct {
	Type RequestType
	Id   [16]byte
}

type ResponseHeader struct {
	RequestId    RequestId
	ErrorId      ErrorId
	Message      string
	ResponseType ResponseType
}

type ByteStreamRPCProtocolVersionRequest struct {
	ClientVersion uint8
}

type FilesystemRequest struct {
	Roots []string
}

type FilesystemVersionsRequest struct {
	Filesystem zfs.DatasetPath
}

type InitialTransferRequest struct {
	Filesystem        zfs.DatasetPath
	FilesystemVersion zfs.FilesystemVersion
}

type IncrementalTransferRequest struct {
	Filesystem zfs.DatasetPath
	From       zfs.FilesystemVersion
	To         zfs.FilesystemVersion
}

type PullMeRequest struct {
	Finished          bool
	InitialReplPolicy InitialReplPolicy
}

type CloseRequest struct {
	Goodbye string
}
