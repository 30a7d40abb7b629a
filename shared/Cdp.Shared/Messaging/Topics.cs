namespace Cdp.Shared.Messaging;

/// <summary>The durable topics between pipeline stages. Key messages by customer so order holds per customer.</summary>
public static class Topics
{
    public const string DataIngestion = "data-ingestion";
    public const string IdentityResolution = "identity-resolution";
    public const string SummaryCalculation = "summary-calculation";
    public const string Notification = "notification";
    public const string EventStream = "event-stream";
    /// <summary>One message per staged chunk of a bulk import (Imports/ImportChunks.cs).</summary>
    public const string BulkImport = "bulk-import";

    public static IReadOnlyList<string> All { get; } =
        [DataIngestion, IdentityResolution, SummaryCalculation, Notification, EventStream, BulkImport];
}
