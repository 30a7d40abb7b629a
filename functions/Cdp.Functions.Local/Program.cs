using Cdp.Functions.Local;
using Cdp.Orchestrations;
using Cdp.Orchestrations.Conversion;
using Cdp.Orchestrations.Privacy;
using Cdp.Orchestrations.Summaries;
using Cdp.Orchestrations.Sync;
using Cdp.Orchestrations.VirtualNumbers;
using Cdp.Shared;
using Cdp.Shared.Operations.Alerts;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Configuration.AddLocalSettings(builder.Environment.ContentRootPath);
builder.AddCdpPlatform();
builder.Services.AddLocalOrchestrations();   // on Azure, Durable Functions plays this part
builder.Services.AddSync();
builder.Services.AddLeadConversion();
builder.Services.AddPrivacyErasure();
builder.Services.AddVirtualNumbers();
builder.Services.AddSummaryRecalculation().AddHostedService<SummaryRecalculationTimer>();
builder.Services.AddHousekeeping().AddHostedService<HousekeepingTimer>();
builder.Services.AddHostedService<AlertTimer>();
builder.AddLocalHost();

var app = builder.Build();
app.UseHostFiltering();
app.UseExceptionHandler();
app.UseApiStatusPages();
app.MapWebPages();
app.MapApi();
app.Run();

/// <summary>Visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
