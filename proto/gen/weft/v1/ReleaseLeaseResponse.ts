// Original file: proto/weft.proto


export interface ReleaseLeaseResponse {
}

export interface ReleaseLeaseResponse__Output {
}
