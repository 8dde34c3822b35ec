import AirlockPolicy
import Foundation

/// A refusal in the shape of the API's own errors, so that the SDK that made the request raises
/// an error the agent (and its model) reads, and does not retry it: AWS `AccessDenied` in the
/// service's protocol, a Kubernetes `Status` with 403, Google's and Azure's error objects.
public struct APIErrorResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]

    /// `message` is the whole story in one line and names Airlock (and the request id, when there
    /// is one); `requestID` also goes where the protocol carries a request id.
    public static func refusal(provider: String, awsProtocol: AWSProtocol?, status: Int = 403, message: String,
                               requestID: String?) -> APIErrorResponse {
        let id = requestID ?? "airlock"
        switch provider {
        case "aws":
            return aws(awsProtocol ?? .restXML, status: status, message: message, requestID: id)
        case "kubernetes":
            return json(status: status, [
                "kind": "Status", "apiVersion": "v1", "metadata": [String: Any](), "status": "Failure",
                "message": message, "reason": "Forbidden", "code": status,
                "details": ["name": id, "kind": "airlock-request"],
            ])
        case "gcp":
            return json(status: status, ["error": ["code": status, "message": message, "status": "PERMISSION_DENIED"]])
        case "azure":
            return json(status: status, ["error": ["code": "AuthorizationFailed", "message": message]])
        default:
            return APIErrorResponse(status: status, headers: ["Content-Type": "text/plain; charset=utf-8"],
                                    body: Array((message + "\n").utf8))
        }
    }

    private static func aws(_ proto: AWSProtocol, status: Int, message: String, requestID: String) -> APIErrorResponse {
        let m = xmlEscaped(message), id = xmlEscaped(requestID)
        switch proto {
        case .query:
            return xml(status: status, requestID: requestID,
                       "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>\(m)</Message></Error><RequestId>\(id)</RequestId></ErrorResponse>")
        case .ec2:
            return xml(status: status, requestID: requestID,
                       "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>\(m)</Message></Error></Errors><RequestID>\(id)</RequestID></Response>")
        case .restXML:
            return xml(status: status, requestID: requestID,
                       "<Error><Code>AccessDenied</Code><Message>\(m)</Message><RequestId>\(id)</RequestId></Error>")
        case .json, .restJSON:
            var response = json(status: status, ["__type": "AccessDeniedException", "message": message, "Message": message])
            response.headers["Content-Type"] = proto == .json ? "application/x-amz-json-1.1" : "application/json"
            response.headers["x-amzn-ErrorType"] = "AccessDeniedException"
            response.headers["x-amzn-RequestId"] = requestID
            // Query-compatible services (SQS) map errors through this header.
            response.headers["x-amzn-query-error"] = "AccessDenied;Sender"
            return response
        case .cbor:
            var body = CBOR.mapHeader(2)
            body += CBOR.text("__type") + CBOR.text("AccessDeniedException")
            body += CBOR.text("message") + CBOR.text(message)
            return APIErrorResponse(status: status, headers: [
                "Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor",
                "x-amzn-RequestId": requestID, "x-amzn-query-error": "AccessDenied;Sender",
            ], body: body)
        }
    }

    private static func xml(status: Int, requestID: String, _ text: String) -> APIErrorResponse {
        APIErrorResponse(status: status, headers: ["Content-Type": "text/xml", "x-amzn-RequestId": requestID],
                         body: Array(("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + text).utf8))
    }

    private static func json(status: Int, _ object: [String: Any]) -> APIErrorResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return APIErrorResponse(status: status, headers: ["Content-Type": "application/json"], body: Array(data))
    }

    private static func xmlEscaped(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // Control characters are not allowed in XML 1.0: shown as a replacement.
                out.unicodeScalars.append(c.value < 0x20 && c != "\t" && c != "\n" ? "\u{FFFD}" : c)
            }
        }
        return out
    }
}

/// The two CBOR (RFC 8949) items an rpc-v2-cbor error needs: a definite map head and text strings.
enum CBOR {
    static func mapHeader(_ count: Int) -> [UInt8] { head(major: 5, UInt64(count)) }

    static func text(_ s: String) -> [UInt8] {
        let bytes = Array(s.utf8)
        return head(major: 3, UInt64(bytes.count)) + bytes
    }

    private static func head(major: UInt8, _ n: UInt64) -> [UInt8] {
        let m = major << 5
        switch n {
        case 0..<24: return [m | UInt8(n)]
        case 24..<0x100: return [m | 24, UInt8(n)]
        case 0x100..<0x10000: return [m | 25, UInt8(n >> 8), UInt8(n & 0xff)]
        case 0x10000..<0x1_0000_0000: return [m | 26] + (0..<4).reversed().map { UInt8(n >> ($0 * 8) & 0xff) }
        default: return [m | 27] + (0..<8).reversed().map { UInt8(n >> ($0 * 8) & 0xff) }
        }
    }
}
