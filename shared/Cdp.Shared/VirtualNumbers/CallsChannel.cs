using Cdp.Shared.Ingestion;

namespace Cdp.Shared.VirtualNumbers;

/// <summary>
/// The fifth channel: call records the privacy-number provider pushes to <c>POST /api/ingest/calls</c>, signed like
/// crm with <c>Channels:calls:SigningSecret</c>. It brings no identity at all: a secret (X) number is never one.
/// </summary>
public static class CallsChannel
{
    public const string Name = "calls";

    public static readonly ChannelDescriptor Descriptor = new(Name, "隐私号通话", SignatureScheme.Hmac, PayloadKind.CallRecords,
        IdentityTypes: [], PersonalIdentityTypes: [], SourceIdIsPersonal: false, ScoringPoints: 5);
}
