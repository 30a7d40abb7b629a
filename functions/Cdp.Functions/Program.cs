using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;

namespace Cdp.Functions;

static class Program
{
    static void Main(string[] args)
    {
        var builder = FunctionsApplication.CreateBuilder(args);
        builder.ConfigureFunctionsWebApplication();
        builder.AddAzureHost();
        builder.UseAzureHostMiddleware();
        builder.Build().Run();
    }
}
